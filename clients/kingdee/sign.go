package kingdee

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// appIDXORKey is the fixed key the official SDKs XOR the AppID secret part with.
const appIDXORKey = "0054f397c6234378b09ca7d3e5debce7"

// ClientSecret derives the signature-mode client secret from a full AppID
// ("<clientID>_<base64 part>"): base64(base64decode(part) XOR key).
func ClientSecret(appID string) (string, error) {
	_, part, ok := strings.Cut(appID, "_")
	if !ok || part == "" {
		return "", errors.New("kingdee: AppID must look like <clientID>_<secret>")
	}
	raw, err := base64.StdEncoding.DecodeString(part)
	if err != nil {
		return "", errors.New("kingdee: AppID secret part is not base64")
	}
	out := make([]byte, len(raw))
	for i, b := range raw {
		out[i] = b ^ appIDXORKey[i%len(appIDXORKey)]
	}
	return base64.StdEncoding.EncodeToString(out), nil
}

// SignParams are the inputs of the signature-header mode.
type SignParams struct {
	AppID, AppSecret string
	AcctID, Username string
	LCID             int
	OrgNum           string
	// Path is the request path, e.g. "/k3cloud/Kingdee.BOS...ExecuteBillQuery.common.kdsvc".
	Path string
	// Timestamp and Nonce are sent and signed as given (SDKs use Unix seconds for both).
	Timestamp, Nonce string
}

// SignHeaders computes the signature-mode headers of the official SDKs
// (X-Api-Signature over method, path, nonce and timestamp with the derived
// client secret; X-Kd-Signature over AppID + the plain "acct,user,lcid,org"
// text with the AppSecret — the spec's vector settles that the HMAC input is
// the plain text, not its base64 sent as X-Kd-Appdata).
func SignHeaders(p SignParams) (http.Header, error) {
	clientID, _, _ := strings.Cut(p.AppID, "_")
	secret, err := ClientSecret(p.AppID)
	if err != nil {
		return nil, err
	}
	org := p.OrgNum
	if org == "" {
		org = "0"
	}
	appData := fmt.Sprintf("%s,%s,%d,%s", p.AcctID, p.Username, p.LCID, org)
	path := url.QueryEscape(p.Path) // escapes "/" as %2F
	toSign := "POST\n" + path + "\n\nx-api-nonce:" + p.Nonce + "\nx-api-timestamp:" + p.Timestamp + "\n"
	h := http.Header{}
	h.Set("X-Api-ClientID", clientID)
	h.Set("X-Api-Auth-Version", "2.0")
	h.Set("x-api-timestamp", p.Timestamp)
	h.Set("x-api-nonce", p.Nonce)
	h.Set("x-api-signheaders", "x-api-timestamp,x-api-nonce")
	h.Set("X-Api-Signature", hmacHexB64(secret, toSign))
	h.Set("X-Kd-Appkey", p.AppID)
	h.Set("X-Kd-Appdata", base64.StdEncoding.EncodeToString([]byte(appData)))
	h.Set("X-Kd-Signature", hmacHexB64(p.AppSecret, p.AppID+appData))
	return h, nil
}

// hmacHexB64 is base64 of the lower-case hex text of HMAC-SHA256(key, msg).
func hmacHexB64(key, msg string) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(msg))
	return base64.StdEncoding.EncodeToString([]byte(hex.EncodeToString(m.Sum(nil))))
}

// unixSeconds formats Unix seconds for the signature headers.
func unixSeconds(sec int64) string { return strconv.FormatInt(sec, 10) }
