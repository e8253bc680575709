// Package api holds the syncgate protobuf contract (api/proto) and the code generated from it (api/gen).
//
// Regenerate after editing a .proto file:
//
//	go generate ./api/...
package api

//go:generate sh -c "cd .. && go run github.com/bufbuild/buf/cmd/buf@v1.75.0 generate"
