// Package vendor is the one shared layer under the syncgate vendor clients
// (Kingdee, Greatonce, Zhilong): the error taxonomy, retries with exponential
// backoff and jitter that honour Retry-After, a per-vendor rate limiter, the
// pooled HTTP transport with per-attempt timeouts, Prometheus metrics on a
// caller-provided registerer, and the audit hook called for every HTTP attempt.
//
// A vendor package builds one [Client] from its config, wraps every logical
// operation in [Retry], and inside it sends HTTP attempts with [Call.Do],
// passing a [Check] that turns the vendor's response envelope into a
// classified [*Error].
package vendor
