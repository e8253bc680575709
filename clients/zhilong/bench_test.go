package zhilong

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/syncgate/syncgate/clients/vendor"
)

// benchPage builds a realistic /api/agentInfo/list answer of n rows: every one of the 86 seed fields,
// RuoYi-style (BaseEntity fields present, nulls included, params as {}), ids as JSON numbers, amounts
// as decimals, Chinese names and addresses, and now and then a remark with escaped quotes or a
// \u escape.
func benchPage(n int) []byte {
	rng := rand.New(rand.NewPCG(1, 2))
	surnames := []string{"王", "李", "张", "刘", "陈", "杨", "黄", "赵", "周", "吴"}
	cities := []string{"广州市天河区", "深圳市南山区", "杭州市西湖区", "成都市武侯区", "武汉市洪山区", "南京市鼓楼区"}
	levels := []string{"金牌代理", "银牌代理", "普通代理"}
	names := reflect.TypeFor[Agent]()
	var b strings.Builder
	b.WriteString(`{"total":`)
	fmt.Fprint(&b, 100000)
	b.WriteString(`,"rows":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		id := 100000 + i
		b.WriteByte('{')
		first := true
		for f := range names.NumField() {
			name := names.Field(f).Tag.Get("json")
			if name == "-" {
				continue
			}
			if !first {
				b.WriteByte(',')
			}
			first = false
			b.WriteString(`"` + name + `":`)
			person := surnames[rng.IntN(len(surnames))] + surnames[rng.IntN(len(surnames))] + "明"
			switch name {
			case "agentId", "agentUserId", "userId":
				fmt.Fprintf(&b, "%d", id)
			case "parentId", "topParentId", "joinCompanyId", "payCompanyId", "houseProvinceId", "houseCityId", "houseAreaId", "manageProvinceId", "manageCityId", "manageAreaId":
				fmt.Fprintf(&b, "%d", rng.IntN(900000)+100000)
			case "agentName", "joinCompanyName", "parentName":
				fmt.Fprintf(&b, `"%s%s商贸有限公司"`, cities[rng.IntN(len(cities))][:9], person)
			case "agentLevelName":
				fmt.Fprintf(&b, `"%s"`, levels[rng.IntN(len(levels))])
			case "agentLevelId", "agentStatus", "agentType", "accountType", "deleteFlag", "isApprove", "isParentApprove", "homeLevel":
				fmt.Fprintf(&b, `"%d"`, rng.IntN(3))
			case "isOver", "isTransferSign":
				fmt.Fprint(&b, rng.IntN(2) == 0)
			case "legalPerson", "contractPerson", "createName", "userName":
				fmt.Fprintf(&b, `"%s"`, person)
			case "mobile", "telPhone":
				fmt.Fprintf(&b, `"1%d"`, 3000000000+rng.IntN(999999999))
			case "email":
				fmt.Fprintf(&b, `"agent%d@example.cn"`, id)
			case "houseAddress":
				fmt.Fprintf(&b, `"广东省%s科技园路%d号%d栋%d室"`, cities[rng.IntN(len(cities))], rng.IntN(300)+1, rng.IntN(20)+1, rng.IntN(2000)+101)
			case "remark", "description":
				switch rng.IntN(10) {
				case 0:
					b.WriteString(`"客户要求\"加急\"处理，联系人\u4e2d文"`)
				case 1, 2, 3:
					b.WriteString(`""`)
				case 4, 5:
					b.WriteString(`null`)
				default:
					fmt.Fprintf(&b, `"%s负责，年销售额约%d万元"`, person, rng.IntN(5000))
				}
			case "createTime", "updateTime", "approveDate", "joinDate":
				fmt.Fprintf(&b, `"2026-0%d-%02d %02d:%02d:%02d"`, rng.IntN(9)+1, rng.IntN(28)+1, rng.IntN(24), rng.IntN(60), rng.IntN(60))
			case "createBy", "updateBy":
				b.WriteString(`"admin"`)
			case "margin", "firstAmount", "totalAmount", "joinPrice", "regAmount", "tax":
				fmt.Fprintf(&b, "%d.%02d", rng.IntN(100000), rng.IntN(100))
			case "contractNo", "businessLicense", "organizationCode", "cardNumber", "oaCode", "payUserCode", "joinCompanyCode", "areaCode", "payAreaCode":
				fmt.Fprintf(&b, `"91440%013d"`, rng.Int64N(1e13))
			case "joinBankName":
				b.WriteString(`"中国工商银行股份有限公司广州天河支行"`)
			case "businessScope":
				b.WriteString(`"日用百货、家用电器、五金交电的批发与零售；货物进出口"`)
			case "agentIdArray":
				if rng.IntN(2) == 0 {
					b.WriteString("null")
				} else {
					fmt.Fprintf(&b, "[%d,%d]", id, id+1)
				}
			case "params":
				b.WriteString("{}")
			default:
				b.WriteString("null")
			}
		}
		b.WriteByte('}')
	}
	b.WriteString(`],"code":200,"msg":"查询成功"}`)
	return []byte(b.String())
}

// BenchmarkDecodePage decodes a 1000-row page (86 fields a row, 2.2 MB in all).
//
//	go test -run XXX -bench DecodePage -benchmem ./clients/zhilong
//
// On the 2-core AMD EPYC dev machine (go1.26.8, shared, so times vary by
// ±20%), before, with encoding/json, a map per row and reflection
// (BenchmarkDecodePageReference keeps it): 67–92 ms/op, 24–33 MB/s,
// 23.3 MB/op, 415,069 allocs/op. After, one pass with jsontext:
// 6.7–10 ms/op, 220–334 MB/s, 3.7 MB/op, 1,404 allocs/op; side by side in
// one run, 8–9× faster.
func BenchmarkDecodePage(b *testing.B) {
	benchDecode(b, func(resp *vendor.Response) ([]Agent, int, error) { return decodeList(resp, 1000) })
}

// BenchmarkDecodePageTokens runs the jsontext decoder alone (the path
// before fastDecodeEnvelope, and still the one for the bodies it defers).
func BenchmarkDecodePageTokens(b *testing.B) {
	benchDecode(b, func(resp *vendor.Response) ([]Agent, int, error) {
		env, err := decodeEnvelopeTokens(vendor.TrimBody(resp.Body), true, 1000)
		if err != nil {
			return nil, 0, err
		}
		total, err := parseTotal(env.total)
		return env.rows, total, err
	})
}

// BenchmarkDecodePageReference runs the former decoder on the same page.
func BenchmarkDecodePageReference(b *testing.B) {
	benchDecode(b, refDecodeList)
}

func benchDecode(b *testing.B, decode func(*vendor.Response) ([]Agent, int, error)) {
	body := benchPage(1000)
	resp := &vendor.Response{Status: 200, Body: body}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		rows, total, err := decode(resp)
		if err != nil || total != 100000 || len(rows) != 1000 {
			b.Fatal(len(rows), total, err)
		}
	}
}

// BenchmarkAgentFields builds the field map of one agent: before (reflection,
// BenchmarkAgentFieldsReference) 11.9–13.1 µs/op, 7,777 B/op, 73 allocs/op;
// after (agentFieldTable) 9.6–10.7 µs/op, 7,600 B/op, 69 allocs/op. What is
// left is the map of 86 entries and boxing each non-empty string in an any.
func BenchmarkAgentFields(b *testing.B) {
	benchFields(b, func(a Agent) map[string]any { return a.Fields() })
}

// BenchmarkAgentFieldsReference runs the former reflection version.
func BenchmarkAgentFieldsReference(b *testing.B) {
	benchFields(b, refFields)
}

func benchFields(b *testing.B, fields func(Agent) map[string]any) {
	rows, _, err := decodeList(&vendor.Response{Status: 200, Body: benchPage(100)}, 100)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if m := fields(rows[i%len(rows)]); len(m) != 86 {
			b.Fatal(len(m))
		}
		i++
	}
}
