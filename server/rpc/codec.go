package rpc

import (
	"errors"
	"fmt"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// strictJSON is the JSON codec of the Connect and gRPC-Web JSON encodings. Unlike connect's default,
// it refuses a field or enum value name the API does not have, so that a misspelt filter
// ({"flow":"AGENTS"}) answers InvalidArgument naming it instead of being ignored. Responses are
// encoded as connect's default codec does (protojson, camelCase field names).
type strictJSON struct{ name string }

// jsonCodecs replace connect's JSON codecs under both names it registers.
func jsonCodecs() []connect.HandlerOption {
	return []connect.HandlerOption{
		connect.WithCodec(strictJSON{name: "json"}),
		connect.WithCodec(strictJSON{name: "json; charset=utf-8"}),
	}
}

func (c strictJSON) Name() string { return c.name }

// IsBinary reports false: JSON is text (connect uses it for GET query encoding).
func (c strictJSON) IsBinary() bool { return false }

func (c strictJSON) Marshal(message any) ([]byte, error) {
	m, ok := message.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("%T is not a protobuf message", message)
	}
	return protojson.MarshalOptions{}.Marshal(m)
}

// MarshalAppend encodes as Marshal does, appending to dst. connect uses it, as it does for its own
// codecs, to encode answers into pooled buffers instead of a fresh, repeatedly grown slice per answer
// (a GetRun page of 50 audit records is tens of KiB of JSON).
func (c strictJSON) MarshalAppend(dst []byte, message any) ([]byte, error) {
	m, ok := message.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("%T is not a protobuf message", message)
	}
	return protojson.MarshalOptions{}.MarshalAppend(dst, m)
}

// Unmarshal decodes a request; its error, which names the offending field or value and where it is,
// reaches the caller as InvalidArgument ("unmarshal message: …").
func (c strictJSON) Unmarshal(data []byte, message any) error {
	m, ok := message.(proto.Message)
	if !ok {
		return fmt.Errorf("%T is not a protobuf message", message)
	}
	if len(data) == 0 {
		return errors.New("empty body: a JSON request is an object, at least {}")
	}
	return protojson.UnmarshalOptions{DiscardUnknown: false}.Unmarshal(data, m)
}
