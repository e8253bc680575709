package vendor

import "time"

// gmt8 is the fixed UTC+8 zone (Asia/Shanghai has had no DST since 1991).
var gmt8 = time.FixedZone("GMT+8", 8*60*60)

// GMT8 returns the fixed UTC+8 zone in which all three vendors write
// zone-less datetimes. It does not depend on tzdata.
func GMT8() *time.Location { return gmt8 }

// DateTimeLayout is the vendors' `yyyy-MM-dd HH:mm:ss` layout.
const DateTimeLayout = "2006-01-02 15:04:05"

// FormatDateTime formats t as `yyyy-MM-dd HH:mm:ss` in GMT+8.
func FormatDateTime(t time.Time) string { return t.In(gmt8).Format(DateTimeLayout) }
