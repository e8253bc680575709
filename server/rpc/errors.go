package rpc

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"

	"buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"buf.build/go/protovalidate"
	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	syncgatev1 "github.com/syncgate/syncgate/api/gen/syncgate/v1"
	"github.com/syncgate/syncgate/server/engine"
	"github.com/syncgate/syncgate/server/mapping"
)

// toConnect is the one place where domain errors become Connect errors. engine.Classify sorts the
// error (the same classification a run's error text goes through); only texts written for callers
// cross the boundary. An internal error is logged in full and answered with "internal error (ref …)",
// the reference the operator greps the log for.
//
// Codes: NotFound (no such run), InvalidArgument (the request cannot be carried out as given),
// FailedPrecondition (a run of the flow is in progress; a vendor refused permanently), Unavailable
// (shutting down; a vendor is unreachable or failing transiently; the database cannot be reached:
// "the database cannot be reached (ref …)", the store's error, which may name the database's host
// and user, logged under the reference), Canceled, DeadlineExceeded, ResourceExhausted (the database
// is full: "the database is full (ref …)", the store's error logged under the reference), and
// Internal for everything else.
func toConnect(ctx context.Context, log *slog.Logger, err error) error {
	if err == nil {
		return nil
	}
	var ce *connect.Error
	if errors.As(err, &ce) {
		return ce
	}
	switch engine.Classify(err) {
	case engine.KindNotFound:
		return connect.NewError(connect.CodeNotFound, errors.New(err.Error()))
	case engine.KindInvalidInput:
		ce := connect.NewError(connect.CodeInvalidArgument, errors.New(err.Error()))
		var se *mapping.SpecError
		if errors.As(err, &se) {
			if detail, derr := connect.NewErrorDetail(specProblems(se)); derr == nil {
				ce.AddDetail(detail)
			}
		}
		return ce
	case engine.KindRunInProgress:
		var inProgress *engine.RunInProgressError
		errors.As(err, &inProgress)
		return connect.NewError(connect.CodeFailedPrecondition, errors.New(inProgress.Error()))
	case engine.KindRunEnded:
		return connect.NewError(connect.CodeFailedPrecondition, errors.New(err.Error()))
	case engine.KindShuttingDown:
		return connect.NewError(connect.CodeUnavailable, errors.New("server is shutting down"))
	case engine.KindCanceled:
		return connect.NewError(connect.CodeCanceled, errors.New("request cancelled"))
	case engine.KindDeadlineExceeded:
		return connect.NewError(connect.CodeDeadlineExceeded, errors.New("deadline exceeded"))
	case engine.KindVendor:
		code := connect.CodeUnavailable
		if engine.IsPermanent(err) {
			code = connect.CodeFailedPrecondition
		}
		return connect.NewError(code, errors.New(err.Error()))
	case engine.KindStorageFull:
		text, ref := engine.PublicText(err)
		log.ErrorContext(ctx, "the database is full", "ref", ref, "error", err)
		return connect.NewError(connect.CodeResourceExhausted, errors.New(text))
	case engine.KindStorageUnavailable:
		text, ref := engine.PublicText(err)
		log.ErrorContext(ctx, "the database cannot be reached", "ref", ref, "error", err)
		return connect.NewError(connect.CodeUnavailable, errors.New(text))
	}
	text, ref := engine.PublicText(err)
	log.ErrorContext(ctx, "internal error", "ref", ref, "error", err)
	return connect.NewError(connect.CodeInternal, errors.New(text))
}

// specProblems is the SpecProblems error detail for a mapping spec that does not validate: each
// problem with its line and column, so that a client (the console's YAML editor) can place it.
func specProblems(se *mapping.SpecError) *syncgatev1.SpecProblems {
	out := &syncgatev1.SpecProblems{}
	for _, p := range se.Problems {
		out.Problems = append(out.Problems, &syncgatev1.SpecProblem{Line: int32(p.Line), Column: int32(p.Col),
			Section: p.Section, Field: p.Field, Message: p.Msg})
	}
	return out
}

// validationToConnect is the InvalidArgument answer to a request that breaks its validation rules.
// Fields are named as JSON callers write them (runId, options.window.start, sourceKeys[2]), for every
// protocol alike; the protovalidate Violations detail (which carries proto field names and numbers)
// is attached as protovalidate produced it.
func validationToConnect(root proto.Message, ve *protovalidate.ValidationError) *connect.Error {
	var b strings.Builder
	if len(ve.Violations) == 1 {
		b.WriteString("validation error: ")
	} else {
		b.WriteString("validation errors:")
	}
	for _, v := range ve.Violations {
		if len(ve.Violations) > 1 {
			b.WriteString("\n - ")
		}
		if path := jsonPath(root.ProtoReflect().Descriptor(), v.Proto.GetField()); path != "" {
			b.WriteString(path)
			b.WriteString(": ")
		}
		switch {
		case v.Proto.GetMessage() != "":
			b.WriteString(v.Proto.GetMessage())
		case v.Proto.GetRuleId() != "":
			b.WriteString("[" + v.Proto.GetRuleId() + "]")
		default:
			b.WriteString("[unknown]")
		}
	}
	ce := connect.NewError(connect.CodeInvalidArgument, errors.New(b.String()))
	if detail, err := connect.NewErrorDetail(ve.ToProto()); err == nil {
		ce.AddDetail(detail)
	}
	return ce
}

// jsonPath renders a violation's field path with JSON field names, resolving each element by its
// field number from the request's descriptor (falling back to the proto name, e.g. for a oneof).
func jsonPath(md protoreflect.MessageDescriptor, path *validate.FieldPath) string {
	var b strings.Builder
	for i, el := range path.GetElements() {
		if i > 0 {
			b.WriteByte('.')
		}
		var fd protoreflect.FieldDescriptor
		if md != nil {
			fd = md.Fields().ByNumber(protoreflect.FieldNumber(el.GetFieldNumber()))
		}
		if fd == nil {
			b.WriteString(el.GetFieldName())
			md = nil
		} else {
			b.WriteString(fd.JSONName())
			switch {
			case fd.IsMap() && fd.MapValue().Message() != nil:
				md = fd.MapValue().Message()
			case fd.Message() != nil && !fd.IsMap():
				md = fd.Message()
			default:
				md = nil
			}
		}
		switch el.WhichSubscript() {
		case validate.FieldPathElement_Index_case:
			b.WriteString("[" + strconv.FormatUint(el.GetIndex(), 10) + "]")
		case validate.FieldPathElement_BoolKey_case:
			b.WriteString("[" + strconv.FormatBool(el.GetBoolKey()) + "]")
		case validate.FieldPathElement_IntKey_case:
			b.WriteString("[" + strconv.FormatInt(el.GetIntKey(), 10) + "]")
		case validate.FieldPathElement_UintKey_case:
			b.WriteString("[" + strconv.FormatUint(el.GetUintKey(), 10) + "]")
		case validate.FieldPathElement_StringKey_case:
			b.WriteString("[" + strconv.Quote(el.GetStringKey()) + "]")
		}
	}
	return b.String()
}

// jsonNames sits just outside the validation interceptor and rewrites its refusals with
// validationToConnect, which needs the request message to resolve field names.
type jsonNames struct{}

func asValidation(err error) (*protovalidate.ValidationError, bool) {
	var ve *protovalidate.ValidationError
	return ve, errors.As(err, &ve)
}

func (jsonNames) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		resp, err := next(ctx, req)
		if ve, ok := asValidation(err); ok {
			if msg, isProto := req.Any().(proto.Message); isProto {
				return nil, validationToConnect(msg, ve)
			}
		}
		return resp, err
	}
}

func (jsonNames) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (jsonNames) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		rc := &receivedConn{StreamingHandlerConn: conn}
		err := next(ctx, rc)
		if ve, ok := asValidation(err); ok && rc.last != nil {
			return validationToConnect(rc.last, ve)
		}
		return err
	}
}

// receivedConn remembers the last request message received on a stream.
type receivedConn struct {
	connect.StreamingHandlerConn
	last proto.Message
}

func (c *receivedConn) Receive(msg any) error {
	if m, ok := msg.(proto.Message); ok {
		c.last = m
	}
	return c.StreamingHandlerConn.Receive(msg)
}
