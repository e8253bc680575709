package rpc

import (
	"compress/gzip"

	"connectrpc.com/connect"
)

// gzipCompression is the server's gzip, registered under the name "gzip" in place of connect-go's
// default (which compresses at gzip.DefaultCompression, level 6). Answers are compressed at
// gzip.BestSpeed: a GetRun page of 50 audit records over Connect+JSON is tens of KiB of repetitive
// JSON that level 1 still shrinks several times over, at a fraction of level 6's CPU (under 200
// console-paced readers during a sync, level-6 gzip was 9% of the gateway's CPU, more than the reads
// themselves). Requests are decompressed as before.
func gzipCompression() connect.HandlerOption {
	return connect.WithCompression("gzip",
		func() connect.Decompressor { return &gzip.Reader{} },
		func() connect.Compressor {
			w, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed) // the error is only for an invalid level
			return w
		},
	)
}
