// Package gen makes deterministic, realistic demo records for the mock vendors: Chinese company and
// person names, addresses, mobile numbers, organisations, and update times spread over months with
// deliberate ties (several records share one timestamp).
package gen

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

var (
	cities    = []string{"上海市", "北京市", "杭州市", "苏州市", "南京市", "广州市", "深圳市", "成都市", "武汉市", "宁波市"}
	districts = []string{"徐汇区", "浦东新区", "西湖区", "朝阳区", "天河区", "南山区", "江宁区", "武侯区", "鄞州区", "姑苏区"}
	roads     = []string{"漕溪北路", "人民路", "解放路", "中山路", "建设路", "文三路", "长江路", "和平路"}
	prefixes  = []string{"植隆", "华润", "恒信", "金桥", "瑞丰", "鼎盛", "嘉禾", "同创", "宏远", "润泽"}
	trades    = []string{"贸易", "商贸", "科技", "实业", "日化", "食品", "医药", "电子"}
	suffixes  = []string{"有限公司", "股份有限公司", "商行", "经营部"}
	surnames  = []string{"张", "王", "李", "赵", "刘", "陈", "杨", "黄", "周", "吴"}
	givens    = []string{"伟", "芳", "娜", "敏", "静", "磊", "洋", "艳", "勇", "军", "杰", "婷"}
	// Orgs are Kingdee organisations: number and name.
	Orgs = [][2]string{{"100", "植隆集团总部"}, {"101", "上海植隆销售公司"}, {"102", "杭州植隆分公司"}}
	// Levels are distributor levels (F_FML_Combo1) and deduct types (F_FML_Combo).
	Levels      = []string{"A", "B", "C"}
	DeductTypes = []string{"1", "2"}
)

// Gen draws records for one seed.
type Gen struct {
	r    *rand.Rand
	base time.Time
}

// New returns a generator: the same seed gives the same records.
func New(seed uint64, base time.Time) *Gen {
	return &Gen{r: rand.New(rand.NewPCG(seed, 0x5bd1e995)), base: base}
}

func (g *Gen) pick(s []string) string { return s[g.r.IntN(len(s))] }

// Company is a company name.
func (g *Gen) Company() string {
	return strings.TrimSuffix(g.pick(cities), "市") + g.pick(prefixes) + g.pick(trades) + g.pick(suffixes)
}

// Person is a person's name.
func (g *Gen) Person() string {
	if g.r.IntN(2) == 0 {
		return g.pick(surnames) + g.pick(givens)
	}
	return g.pick(surnames) + g.pick(givens) + g.pick(givens)
}

// Address is a street address.
func (g *Gen) Address() string {
	return fmt.Sprintf("%s%s%s%d号", g.pick(cities), g.pick(districts), g.pick(roads), 1+g.r.IntN(999))
}

// Mobile is a mainland mobile number.
func (g *Gen) Mobile() string { return fmt.Sprintf("1%d%09d", 3+g.r.IntN(7), g.r.IntN(1_000_000_000)) }

// Pick returns one of s.
func (g *Gen) Pick(s []string) string { return g.pick(s) }

// IntN returns a number in [0,n).
func (g *Gen) IntN(n int) int { return g.r.IntN(n) }

// Time returns the update time of record i of n: spread over about six months from the base, in
// steps that make roughly every third record share its timestamp with a neighbour.
func (g *Gen) Time(i, n int) time.Time {
	span := 180 * 24 * time.Hour
	step := span / time.Duration(max(n, 1))
	if step < time.Second {
		step = time.Second
	}
	t := g.base.Add(time.Duration(i) * step)
	if i%3 == 1 { // tie with the previous record
		t = g.base.Add(time.Duration(i-1) * step)
	}
	return t.Truncate(time.Second)
}
