package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"

	"github.com/syncgate/syncgate/server/mapping"
)

// VendorInfo is what the mock binary prints: base URLs and credentials.
type VendorInfo struct {
	KingdeeURL, KingdeeAcct, KingdeeUser, KingdeePass string
	GreatonceURL, GreatonceKey, GreatonceSecret       string
	GreatonceCustomer                                 string
	ZhilongURL, ZhilongUser, ZhilongPass              string
}

var (
	kdLine = regexp.MustCompile(`kingdee (\S+) acct=(\S+) user=(\S+) password=(\S+)`)
	goLine = regexp.MustCompile(`greatonce (\S+) appKey=(\S+) secret=(\S+) customerId=(\S+)`)
	zlLine = regexp.MustCompile(`zhilong (\S+) user=(\S+) password=(\S+)`)
	// MocksReady is the mock binary's last start-up line.
	MocksReady = regexp.MustCompile("mocks ready")
	// GatewayReady is the gateway's start-up line.
	GatewayReady = regexp.MustCompile(`syncgate listening on (http://\S+)`)
)

// ParseVendors reads the mock binary's start-up lines.
func ParseVendors(out string) (VendorInfo, error) {
	k, g, z := kdLine.FindStringSubmatch(out), goLine.FindStringSubmatch(out), zlLine.FindStringSubmatch(out)
	if k == nil || g == nil || z == nil {
		return VendorInfo{}, fmt.Errorf("mock output lacks a vendor line:\n%s", out)
	}
	return VendorInfo{k[1], k[2], k[3], k[4], g[1], g[2], g[3], g[4], z[1], z[2], z[3]}, nil
}

// GatewayEnv is the environment that points a gateway at the mocks, with the given database, listen
// address and API key, vendor rate limits off (the mocks are local), and the given page/batch sizes.
func GatewayEnv(v VendorInfo, db, addr, key string, pageSize, batchSize int) []string {
	return []string{
		"SYNCGATE_API_KEYS=" + key, "SYNCGATE_DB=" + db, "SYNCGATE_LISTEN=" + addr,
		"SYNCGATE_KINGDEE_BASE_URL=" + v.KingdeeURL, "SYNCGATE_KINGDEE_ACCT_ID=" + v.KingdeeAcct, "SYNCGATE_KINGDEE_USERNAME=" + v.KingdeeUser,
		"SYNCGATE_KINGDEE_PASSWORD=" + v.KingdeePass, "SYNCGATE_GREATONCE_BASE_URL=" + v.GreatonceURL, "SYNCGATE_GREATONCE_APP_KEY=" + v.GreatonceKey,
		"SYNCGATE_GREATONCE_SECRET=" + v.GreatonceSecret, "SYNCGATE_GREATONCE_CUSTOMER_ID=" + v.GreatonceCustomer,
		"SYNCGATE_ZHILONG_BASE_URL=" + v.ZhilongURL, "SYNCGATE_ZHILONG_USERNAME=" + v.ZhilongUser, "SYNCGATE_ZHILONG_PASSWORD=" + v.ZhilongPass,
		"SYNCGATE_KINGDEE_RATE=0", "SYNCGATE_GREATONCE_RATE=0", "SYNCGATE_ZHILONG_RATE=0",
		fmt.Sprintf("SYNCGATE_SYNC_PAGE_SIZE=%d", pageSize), fmt.Sprintf("SYNCGATE_SYNC_BATCH_SIZE=%d", batchSize),
		"SYNCGATE_LOG_LEVEL=warn",
	}
}

// WriteActiveCustomersSpec writes into dir (a mapping directory) the default customers spec
// restricted, as the README shows, to audited, active customers; the default reads every customer,
// as the seed does.
func WriteActiveCustomersSpec(dir string) error {
	text, err := mapping.Default("customers")
	if err != nil {
		return err
	}
	const blank = "    - name: FilterString\n      template: \"\"\n"
	if !bytes.Contains(text, []byte(blank)) {
		return errors.New("the default customers spec has no blank FilterString to restrict")
	}
	text = bytes.Replace(text, []byte(blank), []byte("    - name: FilterString\n      template: \"FDocumentStatus = 'C' and FForbidStatus = 'A'\"\n"), 1)
	return os.WriteFile(filepath.Join(dir, "customers.yaml"), text, 0o644)
}
