package selftest

import (
	"context"
	"encoding/binary"
	"testing"

	"github.com/mw-hpc/mw/rank"
)

func BenchmarkWork256(b *testing.B) {
	o := options{failAt: -1, panicAt: -1}
	d := make([]byte, 16)
	binary.LittleEndian.PutUint64(d[8:], 256)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := o.work(context.Background(), rank.Chunk{Data: d}); err != nil {
			b.Fatal(err)
		}
	}
}
