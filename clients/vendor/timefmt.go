package vendor

import (
	"fmt"
	"strings"
	"time"
)

// gmt8 is the fixed UTC+8 zone (Asia/Shanghai has had no DST since 1991).
var gmt8 = time.FixedZone("GMT+8", 8*60*60)

// GMT8 returns the fixed UTC+8 zone in which all three vendors write
// zone-less datetimes. It does not depend on tzdata.
func GMT8() *time.Location { return gmt8 }

// DateTimeLayout is the vendors' `yyyy-MM-dd HH:mm:ss` layout.
const DateTimeLayout = "2006-01-02 15:04:05"

// Layouts ParseDateTime reads as GMT+8. A ".999999999" fraction is optional
// in Go layouts, so each also reads the form without a fraction.
const (
	spaceLayout = DateTimeLayout + ".999999999"   // Zhilong updateTime, Kingdee's other form
	isoLayout   = "2006-01-02T15:04:05.999999999" // Kingdee FModifyDate, without a zone
	dateLayout  = "2006-01-02"
)

// FormatDateTime formats t as `yyyy-MM-dd HH:mm:ss` in GMT+8.
func FormatDateTime(t time.Time) string { return t.In(gmt8).Format(DateTimeLayout) }

// ParseDateTime parses a datetime as Kingdee and Zhilong send it: `yyyy-MM-dd
// HH:mm:ss` or `yyyy-MM-ddTHH:mm:ss`, either with an optional fraction, or a
// bare `yyyy-MM-dd`, all read as GMT+8; an RFC 3339 datetime keeps its own
// zone. Surrounding space is ignored; a blank string gives the zero time and
// no error. It is the one parser of that format: the clients' ParseTime
// functions wrap it.
func ParseDateTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	// The separator picks the one layout that can match, so no attempt is
	// made (and no error built) in vain on the hot path.
	layout := spaceLayout
	switch {
	case len(s) == len(dateLayout):
		layout = dateLayout
	case len(s) > len(dateLayout) && s[len(dateLayout)] == 'T':
		layout = isoLayout
	}
	if t, err := time.ParseInLocation(layout, s, gmt8); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("unparseable datetime %q", s)
}
