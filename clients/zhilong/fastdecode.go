package zhilong

// A fast path for decodeEnvelope: a hand-written scan of the body that
// builds the same envelope as the jsontext decoder for the bodies a RuoYi
// server sends (an object with a code and rows of objects). It accepts
// only what the jsontext decoder accepts (the JSON grammar, invalid UTF-8
// allowed) and gives up, returning false, on anything it does not handle
// the same way: a body that is not an object or not valid JSON, an escaped
// name, a \u escape of a surrogate, a row that is not an object, msg or
// token not a string, nesting deeper than maxFastDepth. decodeEnvelope then
// decodes the body with jsontext, so errors and the rare cases keep their
// exact former results; TestFastDecodeAgrees and FuzzFastDecode hold the
// two paths to the same envelopes.

import (
	"encoding/binary"
	"encoding/json"
	"strings"
)

// maxFastDepth bounds the recursion of the fast scan.
const maxFastDepth = 256

// fastScan reads a JSON body by index.
type fastScan struct {
	b []byte
}

// space skips whitespace at i.
func (s fastScan) space(i int) int {
	for i < len(s.b) {
		switch s.b[i] {
		case ' ', '\t', '\n', '\r':
			i++
			continue
		}
		break
	}
	return i
}

// str checks the string whose opening quote is at i and returns the index
// after it and whether it holds a backslash.
func (s fastScan) str(i int) (end int, escaped, ok bool) {
	b := s.b
	for i++; i < len(b); i++ {
		for i+8 <= len(b) && plain8(binary.LittleEndian.Uint64(b[i:])) {
			i += 8
		}
		if i >= len(b) {
			break
		}
		c := b[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		switch {
		case c == '"':
			return i + 1, escaped, true
		case c < 0x20:
			return i, false, false
		}
		// a backslash
		escaped = true
		if i+1 >= len(b) {
			return i, false, false
		}
		switch b[i+1] {
		case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			i++
		case 'u':
			if i+5 >= len(b) {
				return i, false, false
			}
			r := 0
			for _, h := range b[i+2 : i+6] {
				switch {
				case '0' <= h && h <= '9':
					r = r<<4 | int(h-'0')
				case 'a' <= h && h <= 'f':
					r = r<<4 | int(h-'a'+10)
				case 'A' <= h && h <= 'F':
					r = r<<4 | int(h-'A'+10)
				default:
					return i, false, false
				}
			}
			if 0xD800 <= r && r < 0xE000 {
				return i, false, false // surrogates: left to jsontext
			}
			i += 5
		default:
			return i, false, false
		}
	}
	return i, false, false
}

// plain8 reports whether none of the 8 bytes in x is a control character,
// a quote or a backslash (SWAR: a byte test in each lane at once).
func plain8(x uint64) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	hasZero := func(v uint64) uint64 { return (v - ones) & ^v & highs }
	less20 := (x - ones*0x20) & ^x & highs
	return less20|hasZero(x^(ones*'"'))|hasZero(x^(ones*'\\')) == 0
}

// value checks the value at i (no leading space) and returns the index after it.
func (s fastScan) value(i, depth int) (int, bool) {
	b := s.b
	if i >= len(b) {
		return i, false
	}
	switch c := b[i]; {
	case c == '"':
		end, _, ok := s.str(i)
		return end, ok
	case c == '{' || c == '[':
		if depth >= maxFastDepth {
			return i, false
		}
		closer := byte('}')
		if c == '[' {
			closer = ']'
		}
		i = s.space(i + 1)
		if i < len(b) && b[i] == closer {
			return i + 1, true
		}
		for {
			var ok bool
			if c == '{' {
				if i >= len(b) || b[i] != '"' {
					return i, false
				}
				if i, _, ok = s.str(i); !ok {
					return i, false
				}
				if i = s.space(i); i >= len(b) || b[i] != ':' {
					return i, false
				}
				i = s.space(i + 1)
			}
			if i, ok = s.value(i, depth+1); !ok {
				return i, false
			}
			if i = s.space(i); i >= len(b) {
				return i, false
			}
			switch b[i] {
			case ',':
				i = s.space(i + 1)
			case closer:
				return i + 1, true
			default:
				return i, false
			}
		}
	case c == '-' || ('0' <= c && c <= '9'):
		return s.number(i)
	case c == 't':
		return s.literal(i, "true")
	case c == 'f':
		return s.literal(i, "false")
	case c == 'n':
		return s.literal(i, "null")
	}
	return i, false
}

// number checks -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? at i.
func (s fastScan) number(i int) (int, bool) {
	b := s.b
	if b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && '1' <= b[i] && b[i] <= '9':
		i = s.digits(i)
	default:
		return i, false
	}
	if i < len(b) && b[i] == '.' {
		j := s.digits(i + 1)
		if j == i+1 {
			return i, false
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := s.digits(i)
		if j == i {
			return i, false
		}
		i = j
	}
	return i, true
}

func (s fastScan) digits(i int) int {
	for i < len(s.b) && '0' <= s.b[i] && s.b[i] <= '9' {
		i++
	}
	return i
}

func (s fastScan) literal(i int, lit string) (int, bool) {
	if len(s.b)-i < len(lit) || string(s.b[i:i+len(lit)]) != lit {
		return i, false
	}
	return i + len(lit), true
}

// name reads the unescaped name at i (the quotes excluded) and the index
// after its colon's following space; false for an escaped or bad name.
func (s fastScan) name(i int) (key []byte, next int, ok bool) {
	if i >= len(s.b) || s.b[i] != '"' {
		return nil, i, false
	}
	end, escaped, ok := s.str(i)
	if !ok || escaped {
		return nil, i, false
	}
	key = s.b[i+1 : end-1]
	if end = s.space(end); end >= len(s.b) || s.b[end] != ':' {
		return nil, i, false
	}
	return key, s.space(end + 1), true
}

// fastDecodeEnvelope is decodeEnvelope's fast path; false means "decode
// with jsontext".
func fastDecodeEnvelope(body []byte, withRows bool, sizeHint int, sc *rowScratch) (*envelope, bool) {
	s := fastScan{b: body}
	i := s.space(0)
	if i >= len(body) || body[i] != '{' {
		return nil, false
	}
	env := &envelope{badRow: -1}
	i = s.space(i + 1)
	if i < len(body) && body[i] == '}' {
		i++
	} else {
		for {
			key, j, ok := s.name(i)
			if !ok {
				return nil, false
			}
			i = j
			k := string(key) // not retained: the comparisons below do not allocate
			switch {
			case strings.EqualFold(k, "code"), strings.EqualFold(k, "total"):
				if j, ok = s.value(i, 0); !ok {
					return nil, false
				}
				if strings.EqualFold(k, "code") {
					env.code = string(body[i:j])
				} else {
					env.total = string(body[i:j])
				}
			case strings.EqualFold(k, "msg"), strings.EqualFold(k, "token"):
				dst := &env.msg
				if strings.EqualFold(k, "token") {
					dst = &env.token
				}
				if i < len(body) && body[i] == '"' {
					if j, _, ok = s.str(i); !ok {
						return nil, false
					}
					*dst = unquote(body[i:j])
				} else if j, ok = s.literal(i, "null"); !ok {
					return nil, false
				}
			case strings.EqualFold(k, "rows"):
				if j, ok = fastRows(s, i, env, withRows, sizeHint, sc); !ok {
					return nil, false
				}
			default:
				if j, ok = s.value(i, 0); !ok {
					return nil, false
				}
			}
			if i = s.space(j); i >= len(body) {
				return nil, false
			}
			if body[i] == '}' {
				i++
				break
			}
			if body[i] != ',' {
				return nil, false
			}
			i = s.space(i + 1)
		}
	}
	if s.space(i) != len(body) {
		return nil, false
	}
	return env, true
}

// fastRows reads the rows value at i into env as readRows does.
func fastRows(s fastScan, i int, env *envelope, withRows bool, sizeHint int, sc *rowScratch) (int, bool) {
	env.rows, env.badRow, env.rowErr = nil, -1, nil
	b := s.b
	if i >= len(b) {
		return i, false
	}
	switch {
	case b[i] == 'n':
		return s.literal(i, "null")
	case b[i] == '[' && !withRows:
		return s.value(i, 0)
	case b[i] != '[':
		return i, false
	}
	rows := make([]Agent, 0, min(max(sizeHint, 0), maxRowsHint))
	i = s.space(i + 1)
	if i < len(b) && b[i] == ']' {
		env.rows = rows
		return i + 1, true
	}
	for {
		if i >= len(b) || b[i] != '{' {
			return i, false
		}
		rows = append(rows, Agent{})
		var ok bool
		if i, ok = sc.fastRow(s, i, &rows[len(rows)-1]); !ok {
			return i, false
		}
		if i = s.space(i); i >= len(b) {
			return i, false
		}
		switch b[i] {
		case ',':
			i = s.space(i + 1)
		case ']':
			env.rows = rows
			return i + 1, true
		default:
			return i, false
		}
	}
}

// fastRow is decodeRow on the object at start.
func (sc *rowScratch) fastRow(s fastScan, start int, a *Agent) (int, bool) {
	b := s.b
	clear(sc.spans[:])
	spans := 0
	i := s.space(start + 1)
	if i < len(b) && b[i] == '}' {
		i++
	} else {
		for {
			f, j, ok := sc.fastName(s, i)
			if !ok {
				return i, false
			}
			lo := j
			var hi int
			escaped := false
			if j < len(b) && b[j] == '"' {
				hi, escaped, ok = s.str(j)
			} else {
				hi, ok = s.value(j, 1)
			}
			if !ok {
				return hi, false
			}
			if f >= 0 {
				fd := &agentFieldTable[f]
				isNull := b[lo] == 'n'
				if fd.raw != nil {
					if isNull {
						*fd.raw(a) = nil
					} else {
						*fd.raw(a) = json.RawMessage(b[lo:hi:hi])
					}
				} else {
					sp := &sc.spans[f]
					sp.lo, sp.hi = 0, 0
					switch {
					case isNull:
						*fd.str(a) = ""
					case b[lo] == '"':
						if escaped {
							*fd.str(a) = unquote(b[lo:hi])
						} else {
							sp.lo, sp.hi = lo+1, hi-1
							spans++
						}
					default:
						sp.lo, sp.hi = lo, hi
						spans++
					}
				}
			}
			if i = s.space(hi); i >= len(b) {
				return i, false
			}
			if b[i] == '}' {
				i++
				break
			}
			if b[i] != ',' {
				return i, false
			}
			i = s.space(i + 1)
		}
	}
	end := i
	a.Raw = json.RawMessage(b[start:end:end])
	if spans == 0 {
		return end, true
	}
	text := string(b[start:end])
	for k := range sc.spans {
		if sp := sc.spans[k]; sp.hi > sp.lo {
			*agentFieldTable[k].str(a) = text[sp.lo-start : sp.hi-start]
		}
	}
	return end, true
}

// fastName reads the name at i and returns its agentFieldTable index (-1
// for an unknown name) and the index of its value. Rows repeat one order,
// so the name expected next is matched against the body without a scan:
// a table name is plain text, so `"name"` found there is that string.
func (sc *rowScratch) fastName(s fastScan, i int) (field, next int, ok bool) {
	b := s.b
	if n := sc.next; n < len(agentFieldTable) {
		name := agentFieldTable[n].name
		if e := i + 1 + len(name); e < len(b) && b[i] == '"' && b[e] == '"' && string(b[i+1:e]) == name {
			if e = s.space(e + 1); e < len(b) && b[e] == ':' {
				sc.next = n + 1
				return n, s.space(e + 1), true
			}
			return -1, i, false
		}
	}
	key, next, ok := s.name(i)
	if !ok {
		return -1, i, false
	}
	return sc.fastLookup(key), next, true
}

// fastLookup is lookup for a name without escapes.
func (sc *rowScratch) fastLookup(key []byte) int {
	if n := sc.next; n < len(agentFieldTable) && string(key) == agentFieldTable[n].name {
		sc.next = n + 1
		return n
	}
	i, ok := agentFieldIndex[string(key)]
	if !ok {
		return -1
	}
	sc.next = i + 1
	return i
}
