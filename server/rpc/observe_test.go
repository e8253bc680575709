package rpc

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"net/http/httptest"
	"testing"
)

func webFrame(flags byte, payload []byte) []byte {
	out := make([]byte, 5, 5+len(payload))
	out[0] = flags
	binary.BigEndian.PutUint32(out[1:], uint32(len(payload)))
	return append(out, payload...)
}

// The gRPC-Web trailer frame is found however the body is cut into writes, compressed or not.
func TestWebTrailerAcrossWritesAndCompression(t *testing.T) {
	trailer := []byte("grpc-status: 13\r\ngrpc-message: marshal%20message\r\n")
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(trailer)
	zw.Close()
	for name, tt := range map[string]struct {
		frame    []byte
		encoding string
	}{
		"plain": {webFrame(webFlagTrailer, trailer), ""},
		"gzip":  {webFrame(webFlagTrailer|webFlagCompressed, gz.Bytes()), "gzip"},
	} {
		body := append(webFrame(0, bytes.Repeat([]byte{'x'}, 300)), webFrame(0, nil)...)
		body = append(body, tt.frame...)
		for _, step := range []int{1, 3, 7, len(body)} {
			rw := &responseRecorder{ResponseWriter: httptest.NewRecorder(), webFrames: true}
			for i := 0; i < len(body); i += step {
				rw.Write(body[i:min(i+step, len(body))])
			}
			status, msg := rw.webTrailer(tt.encoding)
			if status != "13" || msg != "marshal%20message" {
				t.Fatalf("%s, writes of %d bytes: status %q message %q", name, step, status, msg)
			}
		}
	}
	rw := &responseRecorder{ResponseWriter: httptest.NewRecorder(), webFrames: true}
	rw.Write(webFrame(0, []byte("grpc-status: 13\r\n")))
	if status, _ := rw.webTrailer(""); status != "" {
		t.Fatalf("a message frame read as trailers: %q", status)
	}
}
