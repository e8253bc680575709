// Package compact is the storage backends' shared encoding of what they keep per delivered record:
// a run's audit trail as zstd-compressed blocks (one per page commit) and the id mappings' payloads
// (zstd with a raw dictionary of the flows' field skeletons) and payload hashes (32 raw bytes). Both
// backends (server/storage/sqlite, server/storage/postgres) store the same bytes through this package,
// so a block or a payload written by one decodes the same in the other.
//
// Every stored format begins with a version byte; a version, once written, is decoded forever (its
// dictionary included), and a new layout takes a new version byte.
package compact

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/syncgate/syncgate/server/storage"
)

// Format version bytes.
const (
	// blockV1 is a block: zstd frames (no dictionary) of the records in the binary layout of
	// appendRecord, with a header of the frames (see EncodeBlock).
	blockV1 = 1
	// payloadRaw is a payload kept as is after the byte (compression would not make it smaller).
	payloadRaw = 0
	// payloadDictV1 is a payload as a zstd frame with the raw dictionary payloadDict1.
	payloadDictV1 = 1
	// payloadTokensV2 is a payload's JSON with each occurrence of a payloadTokens2 entry replaced by
	// one byte, 0x01 for the first entry, 0x02 for the second, and so on (see encodeTokens).
	payloadTokensV2 = 2
	// hashLiteral marks a payload hash that is not 64 lower-case hex digits, kept as its text.
	hashLiteral = 0
)

// payloadDict1 is the raw zstd dictionary of payloadDictV1: the canonical JSON (keys sorted, no
// spaces) of both flows' mapped payloads with their constant values, so that a payload's frame
// refers to it for the field names instead of spelling them. It must never change (stored payloads
// are decoded with it); a new dictionary takes a new version byte.
const payloadDict1 = `{"FADDRESS":"","FCreateOrgId":{"FNumber":"100"},"FDescription":"","FGroup":{"FNumber":"02"},` +
	`"FINVOICEADDRESS":"","FINVOICEBANKACCOUNT":"","FINVOICEBANKNAME":"","FINVOICETEL":"","FINVOICETITLE":"",` +
	`"FName":"","FNumber":"","FTAXREGISTERCODE":"","FTRADINGCURRID":{"FNumber":"PRE001"},"FUseOrgId":{"FNumber":"100"},` +
	`"F_KHLX":"KHLX02_SYS","F_out_id":"AG"}` +
	`{"address":"","balance_deduct_type":"1","contact":"","distributorCode":"","distributorCompanyName":"植隆集团总部",` +
	`"distributorLevelName":"A","distributorName":"","mobile":""}`

// payloadTokens2 are the field names (with their quotes, colon and the value's opening quote) and the
// constant fields of both flows' mapped payloads in canonical JSON, as payloadTokensV2 abbreviates
// them. JSON text never holds a raw byte below 0x20 (a string escapes it), so each entry can be
// stored as the byte 0x01+i; a payload that holds such a byte is not stored this way. The list must
// never change (stored payloads are decoded with it); a new list takes a new version byte. Where two
// entries start alike the longer comes first: the encoder takes the first that matches.
var payloadTokens2 = [...]string{
	`"FADDRESS":"`, `"FCreateOrgId":{"FNumber":"100"}`, `"FDescription":"`, `"FGroup":{"FNumber":"02"}`,
	`"FINVOICEADDRESS":"`, `"FINVOICEBANKACCOUNT":"`, `"FINVOICEBANKNAME":"`, `"FINVOICETEL":"`, `"FINVOICETITLE":"`,
	`"FName":"`, `"FNumber":"`, `"FTAXREGISTERCODE":"`, `"FTRADINGCURRID":{"FNumber":"PRE001"}`,
	`"FUseOrgId":{"FNumber":"100"}`, `"F_KHLX":"KHLX02_SYS"`, `"F_out_id":"`,
	`"address":"`, `"balance_deduct_type":"1"`, `"contact":"`, `"distributorCode":"`,
	`"distributorCompanyName":"植隆集团总部"`, `"distributorCompanyName":"`, `"distributorLevelName":"`,
	`"distributorName":"`, `"mobile":"`,
}

// tokensByName lists, by the second byte and the length of a token's quoted name (its text up to
// and including the second '"'), the payloadTokens2 entries with such a name, in list order.
var tokensByName = func() (by [256][maxTokenName + 1][]uint8) {
	for i, t := range payloadTokens2 {
		n := strings.IndexByte(t[1:], '"') + 2
		by[t[1]][n] = append(by[t[1]][n], uint8(i))
	}
	return by
}()

// maxTokenName bounds the length of a payloadTokens2 entry's quoted name.
const maxTokenName = 32

// encodeTokens appends p to dst with each payloadTokens2 entry replaced by its byte, and reports false
// (with dst unchanged) when p holds a byte below 0x20 or abbreviates to more than three quarters of
// its size (not a payload of these flows' shape).
func encodeTokens(dst, p []byte) ([]byte, bool) {
	for _, b := range p {
		if b < 0x20 {
			return dst, false
		}
	}
	start := len(dst)
	dst = append(dst, payloadTokensV2)
	for i := 0; i < len(p); {
		q := bytes.IndexByte(p[i:], '"')
		if q < 0 {
			dst = append(dst, p[i:]...)
			break
		}
		j := i + q
		dst = append(dst, p[i:j]...)
		i = j + 1
		matched := false
		if j+1 < len(p) {
			if n := bytes.IndexByte(p[j+1:min(len(p), j+maxTokenName)], '"') + 2; n >= 2 {
				for _, k := range tokensByName[p[j+1]][n] {
					if t := payloadTokens2[k]; len(p)-j >= len(t) && string(p[j:j+len(t)]) == t {
						dst, i, matched = append(dst, 0x01+k), j+len(t), true
						break
					}
				}
			}
		}
		if !matched {
			dst = append(dst, '"')
		}
	}
	if n := len(dst) - start; n*4 > len(p)*3 {
		return dst[:start], false
	}
	return dst, true
}

// decodeTokens expands a payloadTokensV2 body (after the version byte).
func decodeTokens(b []byte) ([]byte, error) {
	out := make([]byte, 0, 3*len(b))
	for i := 0; i < len(b); {
		j := i
		for j < len(b) && b[j] >= 0x20 {
			j++
		}
		out = append(out, b[i:j]...)
		if j == len(b) {
			break
		}
		k := int(b[j]) - 1
		if k < 0 || k >= len(payloadTokens2) {
			return nil, fmt.Errorf("decode payload: byte %#x at %d is no token", b[j], j)
		}
		out = append(out, payloadTokens2[k]...)
		i = j + 1
	}
	return out, nil
}

// maxDecoded bounds what one frame may decode to (a block of a page of large bodies stays far below).
const maxDecoded = 1 << 30

// Codec encodes and decodes blocks and payloads. It is safe for concurrent use; make one per store.
type Codec struct {
	blockEnc, payloadEnc *zstd.Encoder
	blockDec, payloadDec *zstd.Decoder
}

// New returns a Codec.
func New() (*Codec, error) {
	c := &Codec{}
	var err error
	// Blocks are compressed on the page commit's path: the fastest level already finds the
	// repetition across a page's records (measured: see server/storage/sqlite/bench_test.go).
	if c.blockEnc, err = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderCRC(false),
		zstd.WithEncoderConcurrency(1)); err != nil {
		return nil, fmt.Errorf("block encoder: %w", err)
	}
	// A payload is a few hundred bytes, one frame each, encoded inside the page commit. Entropy
	// coding pays little there (the dictionary's matches do the work) and costs most of the time: the
	// fastest level without it encodes a payload in about a fifth of the default level's time, no
	// bigger (BenchmarkEncodePayload).
	if c.payloadEnc, err = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithNoEntropyCompression(true),
		zstd.WithEncoderCRC(false), zstd.WithEncoderConcurrency(1), zstd.WithEncoderDictRaw(1, []byte(payloadDict1))); err != nil {
		return nil, fmt.Errorf("payload encoder: %w", err)
	}
	if c.blockDec, err = zstd.NewReader(nil, zstd.WithDecoderConcurrency(0), zstd.WithDecoderMaxMemory(maxDecoded)); err != nil {
		return nil, fmt.Errorf("block decoder: %w", err)
	}
	if c.payloadDec, err = zstd.NewReader(nil, zstd.WithDecoderConcurrency(0), zstd.WithDecoderMaxMemory(maxDecoded),
		zstd.WithDecoderDictRaw(1, []byte(payloadDict1))); err != nil {
		return nil, fmt.Errorf("payload decoder: %w", err)
	}
	return c, nil
}

// EncodePayload returns a mapping's payload as stored: abbreviated by payloadTokens2 (a small
// fraction of zstd's cost per payload, whose dictionary tables are reset for each frame), else, for a
// payload of another shape, zstd with payloadDict1, else as is.
func (c *Codec) EncodePayload(p []byte) []byte {
	if t, ok := encodeTokens(make([]byte, 0, len(p)/2+16), p); ok {
		return t
	}
	z := c.payloadEnc.EncodeAll(p, []byte{payloadDictV1})
	if len(z) >= len(p)+1 {
		return append([]byte{payloadRaw}, p...)
	}
	return z
}

// DecodePayload returns a stored payload as the mapping's payload. A value without a version byte
// (a payload stored as plain JSON before this encoding, which begins with '{') is returned as is.
func (c *Codec) DecodePayload(b []byte) ([]byte, error) {
	if len(b) == 0 {
		return []byte{}, nil
	}
	switch b[0] {
	case payloadRaw:
		return b[1:], nil
	case payloadDictV1:
		p, err := c.payloadDec.DecodeAll(b[1:], nil)
		if err != nil {
			return nil, fmt.Errorf("decode payload: %w", err)
		}
		return p, nil
	case payloadTokensV2:
		return decodeTokens(b[1:])
	default:
		return b, nil
	}
}

// EncodeHash returns a payload hash as stored: a hex SHA-256 (64 lower-case hex digits, what the
// engine computes) as its 32 bytes, anything else as hashLiteral and its text.
func EncodeHash(h string) []byte {
	if len(h) == 64 && strings.ToLower(h) == h {
		if b, err := hex.DecodeString(h); err == nil {
			return b
		}
	}
	return append([]byte{hashLiteral}, h...)
}

// DecodeHash is the inverse of EncodeHash.
func DecodeHash(b []byte) string {
	if len(b) == 32 {
		return hex.EncodeToString(b)
	}
	if len(b) > 0 && b[0] == hashLiteral {
		return string(b[1:])
	}
	return string(b)
}

// Indexed reports whether an audit row gets an entry in the record index (and so appears in the
// record's history): every row but an unchanged skip (action "skip", outcome "skipped": the record
// was unchanged and nothing was sent), which a full resync writes for every record.
func Indexed(r storage.Record) bool {
	return r.Action != "skip" || r.Outcome != "skipped"
}

// Summary lists the distinct (action, outcome) pairs of a block's records, one "action\toutcome"
// per line in sorted order: RunRecords skips a block whose summary cannot match its filter without
// decoding it.
func Summary(recs []storage.Record) string {
	var pairs []string
	for _, r := range recs {
		p := r.Action + "\t" + r.Outcome
		if !slices.Contains(pairs, p) {
			pairs = append(pairs, p)
		}
	}
	slices.Sort(pairs)
	return strings.Join(pairs, "\n")
}

// Matches reports whether a block with this summary can hold a record that f selects.
func Matches(summary string, f storage.RecordFilter) bool {
	if f.Action == "" && f.Outcome == "" {
		return true
	}
	for line := range strings.SplitSeq(summary, "\n") {
		a, o, _ := strings.Cut(line, "\t")
		if (f.Action == "" || f.Action == a) && (f.Outcome == "" || f.Outcome == o) {
			return true
		}
	}
	return false
}

// Selects reports whether f selects r.
func Selects(f storage.RecordFilter, r storage.Record) bool {
	return (f.Action == "" || f.Action == r.Action) && (f.Outcome == "" || f.Outcome == r.Outcome)
}

// frameRecords is how many records one zstd frame of a block holds. A block is one page commit; its
// records are compressed in frames of this many, so that a record's history (a row here and there in
// many runs) decompresses one frame per row, not the whole page. Measured with TestBlockRoundTrip's
// page of 1000 customers-like rows: the page as one frame 20.9 bytes per record, in frames of 128
// 21.3, of 64 23.3, of 32 28.0; with the page as one frame, a history page of 5 rows (5 runs) took
// 4-14 ms (BenchmarkRecordHistory on a busy machine), nearly all of it decoding whole pages.
const frameRecords = 128

// EncodeBlock returns the block of these records (in sequence order, their Seq and At set), whose
// first sequence number is first. Sequence numbers are stored relative to first, so that a backend
// that numbers a page's rows in SQL (PostgreSQL, in a pipelined batch) can encode the block before it
// knows first: it passes first 0 and the rows numbered from 0, and stores the block under its real
// first sequence number. RunID is not stored: a block belongs to one run.
//
// Layout (version blockV1): the version byte; the number of frames; per frame its first record's
// relative sequence number, its number of records, its length decompressed and compressed; then
// the frames, each a zstd frame of its records in appendRecord's layout. (The decompressed length
// lets a reader give the decoder a buffer of the right size: without one, decompressing a frame of
// 128 rows took about ten times as long.)
func (c *Codec) EncodeBlock(first int64, recs []storage.Record) []byte {
	head := []byte{blockV1}
	n := (len(recs) + frameRecords - 1) / frameRecords
	head = binary.AppendUvarint(head, uint64(n))
	var frames, raw []byte
	for start := 0; start < len(recs); start += frameRecords {
		chunk := recs[start:min(start+frameRecords, len(recs))]
		raw = raw[:0]
		for _, r := range chunk {
			r.Seq -= first
			raw = appendRecord(raw, r)
		}
		before := len(frames)
		frames = c.blockEnc.EncodeAll(raw, frames)
		head = binary.AppendVarint(head, chunk[0].Seq-first)
		head = binary.AppendUvarint(head, uint64(len(chunk)))
		head = binary.AppendUvarint(head, uint64(len(raw)))
		head = binary.AppendUvarint(head, uint64(len(frames)-before))
	}
	return append(head, frames...)
}

func appendRecord(b []byte, r storage.Record) []byte {
	b = binary.AppendVarint(b, r.Seq)
	for _, s := range []string{r.SourceKey, r.TargetKey, r.Action} {
		b = appendString(b, s)
	}
	b = binary.AppendVarint(b, int64(r.Attempt))
	for _, s := range []string{r.Vendor, r.Operation, r.Request, r.Response, r.Outcome, r.Error} {
		b = appendString(b, s)
	}
	var at int64 // the zero time is 0 (its UnixNano is not defined)
	if !r.At.IsZero() {
		at = r.At.UnixNano()
	}
	return binary.AppendVarint(b, at)
}

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// errCorrupt reports a block that does not decode.
var errCorrupt = errors.New("corrupt audit block")

// frame is one frame of a block, as its header gives it.
type frame struct {
	firstRel int64
	records  int
	size     uint64 // decompressed
	data     []byte
}

// frames parses a block's header.
func frames(b []byte) ([]frame, error) {
	if len(b) == 0 || b[0] != blockV1 {
		return nil, fmt.Errorf("%w: unknown version", errCorrupt)
	}
	d := decoder{b: b[1:]}
	n := d.uvarint()
	if d.err != nil || n > uint64(len(b)) {
		return nil, fmt.Errorf("%w: frame count", errCorrupt)
	}
	out := make([]frame, n)
	lengths := make([]uint64, n)
	for i := range out {
		out[i].firstRel, out[i].records, out[i].size, lengths[i] = d.varint(), int(d.uvarint()), d.uvarint(), d.uvarint()
	}
	if d.err != nil {
		return nil, fmt.Errorf("%w: frame header: %w", errCorrupt, d.err)
	}
	rest := d.b
	for i := range out {
		if lengths[i] > uint64(len(rest)) || out[i].records < 0 || out[i].records > len(b)*8 || out[i].size > maxDecoded {
			return nil, fmt.Errorf("%w: frame %d", errCorrupt, i)
		}
		out[i].data, rest = rest[:lengths[i]], rest[lengths[i]:]
	}
	return out, nil
}

// decodeFrame returns a frame's records, numbered from first, with RunID set to runID.
func (c *Codec) decodeFrame(runID string, first int64, f frame) ([]storage.Record, error) {
	raw, err := c.decompress(f)
	if err != nil {
		return nil, err
	}
	d := decoder{b: raw}
	out := make([]storage.Record, 0, f.records)
	for range f.records {
		r := storage.Record{RunID: runID}
		r.Seq = first + d.varint()
		r.SourceKey, r.TargetKey, r.Action = d.string(), d.string(), d.string()
		r.Attempt = int(d.varint())
		r.Vendor, r.Operation, r.Request, r.Response, r.Outcome, r.Error = d.string(), d.string(), d.string(), d.string(), d.string(), d.string()
		if at := d.varint(); at != 0 {
			r.At = time.Unix(0, at).UTC()
		}
		if d.err != nil {
			return nil, fmt.Errorf("%w: %w", errCorrupt, d.err)
		}
		out = append(out, r)
	}
	return out, nil
}

// decompress returns a frame's records in appendRecord's layout.
func (c *Codec) decompress(f frame) ([]byte, error) {
	raw, err := c.blockDec.DecodeAll(f.data, make([]byte, 0, f.size))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errCorrupt, err)
	}
	return raw, nil
}

// DecodeBlock returns the records of a block stored under first sequence number first, in sequence
// order, with RunID set to runID.
func (c *Codec) DecodeBlock(runID string, first int64, b []byte) ([]storage.Record, error) {
	fs, err := frames(b)
	if err != nil {
		return nil, err
	}
	var out []storage.Record
	for _, f := range fs {
		recs, err := c.decodeFrame(runID, first, f)
		if err != nil {
			return nil, err
		}
		out = append(out, recs...)
	}
	return out, nil
}

// decoder reads appendRecord's layout; the first error sticks.
type decoder struct {
	b   []byte
	err error
}

var errShort = errors.New("truncated")

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errShort
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = errShort
		return 0
	}
	d.b = d.b[n:]
	return v
}

// skip passes over a string.
func (d *decoder) skip() {
	n := d.uvarint()
	if d.err == nil && n > uint64(len(d.b)) {
		d.err = errShort
	}
	if d.err == nil {
		d.b = d.b[n:]
	}
}

func (d *decoder) string() string {
	n := d.uvarint()
	if d.err != nil {
		return ""
	}
	if n > uint64(len(d.b)) {
		d.err = errShort
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

// Find returns the record with this seq from a block's records (in sequence order).
func Find(recs []storage.Record, seq int64) (storage.Record, bool) {
	i, ok := slices.BinarySearchFunc(recs, seq, func(r storage.Record, s int64) int {
		switch {
		case r.Seq < s:
			return -1
		case r.Seq > s:
			return 1
		}
		return 0
	})
	if !ok {
		return storage.Record{}, false
	}
	return recs[i], true
}

// Block is a block's row without its data: its first and last sequence numbers and its Summary.
type Block struct {
	FirstSeq, LastSeq int64
	Summary           string
}

// PageRun returns the records after seq after that f selects, in sequence order, at most limit of
// them, from a run's blocks (in sequence order, those ending after after): a block whose summary
// cannot match is skipped without its data; data returns a block's data by its first sequence number.
func (c *Codec) PageRun(runID string, blocks []Block, data func(firstSeq int64) ([]byte, error), f storage.RecordFilter,
	after int64, limit int) ([]storage.Record, error) {
	var out []storage.Record
	for _, b := range blocks {
		if b.LastSeq <= after || !Matches(b.Summary, f) {
			continue
		}
		raw, err := data(b.FirstSeq)
		if err != nil {
			return nil, err
		}
		fs, err := frames(raw)
		if err != nil {
			return nil, fmt.Errorf("run %s block %d: %w", runID, b.FirstSeq, err)
		}
		// Frames are decoded one at a time, from the first that can hold a row after after, until
		// the page is full.
		for i, fr := range fs {
			if i+1 < len(fs) && b.FirstSeq+fs[i+1].firstRel-1 <= after {
				continue
			}
			recs, err := c.decodeFrame(runID, b.FirstSeq, fr)
			if err != nil {
				return nil, fmt.Errorf("run %s block %d: %w", runID, b.FirstSeq, err)
			}
			for _, r := range recs {
				if r.Seq > after && Selects(f, r) {
					out = append(out, r)
					if len(out) == limit {
						return out, nil
					}
				}
			}
		}
	}
	return out, nil
}

// Blocks fetches audit rows by (run, seq) from their blocks, decompressing only the frame that holds
// each (see frameRecords) and each frame once (a record's history may read several rows of one
// run's page), and decoding only the rows asked for. Make one per read; it is not safe for
// concurrent use.
type Blocks struct {
	codec *Codec
	// fetch returns the block of runID that holds seq: its first sequence number and its data.
	fetch func(runID string, seq int64) (firstSeq int64, data []byte, err error)
	// frames holds each run's decompressed frames.
	frames map[string][]rawFrame
}

// rawFrame is a decompressed frame: its records in appendRecord's layout, numbered from first.
type rawFrame struct {
	first, lo, hi int64 // the block's first sequence number; the frame's first and last possible seq
	records       int
	raw           []byte
}

// NewBlocks returns a Blocks over fetch.
func (c *Codec) NewBlocks(fetch func(runID string, seq int64) (int64, []byte, error)) *Blocks {
	return &Blocks{codec: c, fetch: fetch, frames: map[string][]rawFrame{}}
}

// errMissing reports an indexed audit row that its run's blocks do not hold.
var errMissing = errors.New("audit row missing from its block")

// Get returns the audit row seq of run runID.
func (b *Blocks) Get(runID string, seq int64) (storage.Record, error) {
	for _, f := range b.frames[runID] {
		if f.lo <= seq && seq <= f.hi {
			if r, ok, err := f.find(runID, seq); err != nil || ok {
				return r, err
			}
		}
	}
	first, raw, err := b.fetch(runID, seq)
	if err != nil {
		return storage.Record{}, err
	}
	fs, err := frames(raw)
	if err != nil {
		return storage.Record{}, fmt.Errorf("run %s block %d: %w", runID, first, err)
	}
	// The frame holding seq is the last one that starts at or before it.
	i := sort.Search(len(fs), func(i int) bool { return first+fs[i].firstRel > seq }) - 1
	if i < 0 {
		return storage.Record{}, fmt.Errorf("run %s seq %d: %w", runID, seq, errMissing)
	}
	data, err := b.codec.decompress(fs[i])
	if err != nil {
		return storage.Record{}, fmt.Errorf("run %s block %d: %w", runID, first, err)
	}
	f := rawFrame{first: first, lo: first + fs[i].firstRel, hi: math.MaxInt64, records: fs[i].records, raw: data}
	if i+1 < len(fs) {
		f.hi = first + fs[i+1].firstRel - 1
	}
	b.frames[runID] = append(b.frames[runID], f)
	r, ok, err := f.find(runID, seq)
	if err != nil {
		return storage.Record{}, fmt.Errorf("run %s block %d: %w", runID, first, err)
	}
	if !ok {
		return storage.Record{}, fmt.Errorf("run %s seq %d: %w", runID, seq, errMissing)
	}
	return r, nil
}

// find decodes the frame's record seq, skipping the others without decoding them.
func (f rawFrame) find(runID string, seq int64) (storage.Record, bool, error) {
	d := decoder{b: f.raw}
	for range f.records {
		s := f.first + d.varint()
		if s != seq {
			for range 3 {
				d.skip()
			}
			d.varint()
			for range 6 {
				d.skip()
			}
			d.varint()
			if d.err != nil {
				return storage.Record{}, false, fmt.Errorf("%w: %w", errCorrupt, d.err)
			}
			continue
		}
		r := storage.Record{RunID: runID, Seq: s}
		r.SourceKey, r.TargetKey, r.Action = d.string(), d.string(), d.string()
		r.Attempt = int(d.varint())
		r.Vendor, r.Operation, r.Request, r.Response, r.Outcome, r.Error = d.string(), d.string(), d.string(), d.string(), d.string(), d.string()
		if at := d.varint(); at != 0 {
			r.At = time.Unix(0, at).UTC()
		}
		if d.err != nil {
			return storage.Record{}, false, fmt.Errorf("%w: %w", errCorrupt, d.err)
		}
		return r, true, nil
	}
	return storage.Record{}, false, nil
}
