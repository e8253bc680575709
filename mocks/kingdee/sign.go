package kingdee

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

const xorKey = "0054f397c6234378b09ca7d3e5debce7"

// clientSecret derives the signing secret from the AppID (vendors.md §1): base64(base64decode(part
// after "_") XOR the fixed key, byte-wise, key cycled).
func clientSecret(appID string) string {
	_, enc, _ := strings.Cut(appID, "_")
	raw, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		raw, _ = base64.RawStdEncoding.DecodeString(enc)
	}
	out := make([]byte, len(raw))
	for i := range raw {
		out[i] = raw[i] ^ xorKey[i%len(xorKey)]
	}
	return base64.StdEncoding.EncodeToString(out)
}

func hmacHexB64(key, msg string) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(msg))
	return base64.StdEncoding.EncodeToString([]byte(hex.EncodeToString(m.Sum(nil))))
}

// apiSignature is X-Api-Signature for a path, nonce and timestamp.
func apiSignature(appID, path, nonce, ts string) string {
	p := strings.ReplaceAll(url.QueryEscape(path), "%2F", "%2F")
	toSign := "POST\n" + p + "\n\nx-api-nonce:" + nonce + "\nx-api-timestamp:" + ts + "\n"
	return hmacHexB64(clientSecret(appID), toSign)
}

// verifySignature checks the signature-header mode: the app, the data center and user in
// X-Kd-Appdata, both signatures, and a timestamp within 15 minutes.
func verifySignature(r *http.Request, cfg Config, now time.Time) bool {
	h := r.Header
	appID := h.Get("X-Kd-Appkey")
	if appID != cfg.AppID || cfg.AppID == "" {
		return false
	}
	ts, nonce := h.Get("x-api-timestamp"), h.Get("x-api-nonce")
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || now.Sub(time.Unix(sec, 0)).Abs() > 15*time.Minute {
		return false
	}
	if !hmac.Equal([]byte(h.Get("X-Api-Signature")), []byte(apiSignature(appID, r.URL.Path, nonce, ts))) {
		return false
	}
	appData := h.Get("X-Kd-Appdata")
	plain, err := base64.StdEncoding.DecodeString(appData)
	if err != nil {
		return false
	}
	parts := strings.Split(string(plain), ",")
	if len(parts) < 2 || parts[0] != cfg.AcctID || parts[1] != cfg.Username {
		return false
	}
	return hmac.Equal([]byte(h.Get("X-Kd-Signature")), []byte(hmacHexB64(cfg.AppSecret, appID+string(plain))))
}
