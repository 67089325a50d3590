package interp

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
)

// MaxFactor is the largest enlargement factor. Up to it the integer weights are exact and
// every sum fits in an int64.
const MaxFactor = 256

// maxPixels bounds width*factor*height, so that no size computation overflows an int on
// any platform and a bad header cannot ask for gigabytes.
const maxPixels = 1 << 30

// Kernel enlarges frames of one geometry (width x height, one byte per pixel, row-major)
// by an integer factor between columns, with the convention of the package doc.
//
// NewKernel precomputes every weight as an exact integer fraction: one set per phase
// (output column modulo the factor) for the interior and one per output column for the
// two columns at each edge, where taps outside the frame are dropped and the remaining
// weights renormalised. Enlarge then uses integer arithmetic only and allocates nothing.
//
// A Kernel is read-only after NewKernel: it is safe to use concurrently from many
// goroutines.
type Kernel struct {
	w, h, f int
	ow      int // output width, w*f

	// edge holds one entry per output column whose source column is within two of
	// either edge (or every column of a narrow frame). Entries at i < nLeft cover output
	// columns 0..nLeft-1; the rest cover the last columns, in order.
	edge  []edgeCol
	nLeft int

	// Interior: output column k*f+p for source column k in [lo, hi) is
	// sum_r phase[p][r]*src[k-2+r] over the common denominator den (phase weights always
	// sum to den in the interior).
	lo, hi int
	phase  [][4]int64
	den    int64
	// lut maps a weighted sum v (offset by lutOff) to its rounded, clamped grey level;
	// nil when the range of sums is too wide, and den then divides.
	lut    []uint8
	lutOff int64
	// phaseFirst[p] is the offset from k of phase p's first tap: -2 or -1.
	phaseFirst []int
	// lut3 is the table of the unrolled factor-3 path (nil for other factors, and for
	// frames narrower than 5, which are all edge).
	lut3 *[lut3Len]uint8
}

// edgeCol is one output column computed from up to four taps that lie inside the frame.
type edgeCol struct {
	x   int      // output column
	idx [4]int   // source columns; unused taps point at column 0 with weight 0
	c   [4]int64 // weights over sum
	sum int64    // sum of the weights kept (> 0)
	// magic, when not 0, divides without a division: for every reachable n = 2v+sum,
	// n/(2*sum) == n*magic >> magicShift (see setMagic).
	magic uint64
}

const magicShift = 40

// setMagic picks the multiplier m = ceil(2^40 / 2S) when it is exact for every numerator
// n up to nmax: with e = 2S*m - 2^40 < 2S, n*m/2^40 = n/2S + n*e/(2S*2^40), which stays
// below the next integer when n*e < 2^40; and n*m must fit in 64 bits.
func (e *edgeCol) setMagic() {
	var pos int64
	for _, c := range e.c {
		pos += max(c, 0)
	}
	nmax := uint64(2*255*pos + e.sum)
	d := uint64(2 * e.sum)
	m := (uint64(1)<<magicShift + d - 1) / d
	if hi, _ := bits.Mul64(nmax, d); hi != 0 || nmax*d >= 1<<magicShift {
		return
	}
	if hi, _ := bits.Mul64(nmax, m); hi != 0 {
		return
	}
	e.magic = m
}

// round returns v/sum rounded (halves up) and clamped to 0..255.
func (e *edgeCol) round(v int64) uint8 {
	if e.magic == 0 {
		return roundDiv(v, e.sum)
	}
	n := 2*v + e.sum
	if n <= 0 {
		return 0
	}
	return uint8(min(uint64(n)*e.magic>>magicShift, 255))
}

// NewKernel returns the kernel for frames of width x height enlarged factor times.
// width must be at least 2, height and factor at least 1, factor at most MaxFactor.
func NewKernel(width, height, factor int) (*Kernel, error) {
	if err := CheckGeometry(width, height, factor); err != nil {
		return nil, err
	}
	k := &Kernel{w: width, h: height, f: factor, ow: width * factor}
	if factor == 1 {
		return k, nil
	}
	q := int64(2 * factor)
	den := 2 * q * q * q

	// Interior weights per phase p: the source position of output column k*f+p is
	// k + d with d = (2p+1-f)/(2f); the taps are k-2..k+1 when d < 0, k-1..k+2 otherwise.
	k.phase = make([][4]int64, factor)
	offs := make([]int, factor) // first tap's offset from k: -2 or -1
	g := den
	for p := 0; p < factor; p++ {
		dn := int64(2*p + 1 - factor) // sub-pixel offset d = dn/q, -q/2 < dn < q/2
		first := -1
		if dn < 0 {
			first = -2
		}
		offs[p] = first
		for i := 0; i < 4; i++ {
			r := int64(first + i)     // tap column minus k
			c := cubicNum(-r*q+dn, q) // t = (sx - tap) = (dn - r*q)/q
			k.phase[p][i] = c
			g = gcd(g, abs64(c))
		}
	}
	// Reduce every weight by the common gcd: 432 -> 27 for factor 3.
	for p := range k.phase {
		for i := range k.phase[p] {
			k.phase[p][i] /= g
		}
	}
	k.den = den / g

	// Edge columns: any output column whose taps may leave the frame.
	k.lo, k.hi = 2, width-2
	if k.hi < k.lo {
		k.lo, k.hi = width, width // no interior: every column is an edge column
	}
	addEdge := func(x int) {
		kk, p := x/factor, x%factor
		e := edgeCol{x: x}
		for i := 0; i < 4; i++ {
			j := kk + offs[p] + i
			if j < 0 || j >= width {
				continue // dropped: weight stays 0, index stays 0
			}
			e.idx[i], e.c[i] = j, k.phase[p][i]
			e.sum += e.c[i]
		}
		e.setMagic()
		k.edge = append(k.edge, e)
	}
	for x := 0; x < k.lo*factor; x++ {
		addEdge(x)
	}
	k.nLeft = len(k.edge)
	for x := k.hi * factor; x < k.ow; x++ {
		addEdge(x)
	}
	k.phaseFirst = offs

	// Lookup table of rounded results when the range of interior sums is small.
	var lo, hi int64
	for _, ph := range k.phase {
		var neg, pos int64
		for _, c := range ph {
			if c < 0 {
				neg += c
			} else {
				pos += c
			}
		}
		lo, hi = min(lo, 255*neg), max(hi, 255*pos)
	}
	if hi-lo < 1<<16 {
		k.lut = make([]uint8, hi-lo+1)
		k.lutOff = -lo
		for v := lo; v <= hi; v++ {
			k.lut[v-lo] = roundDiv(v, k.den)
		}
	}
	if factor == 3 && width >= 5 {
		// The unrolled path hard-codes these weights; check them against the tables.
		if k.den != 27 || k.phase[0] != [4]int64{-1, 9, 21, -2} || k.phase[1] != [4]int64{0, 27, 0, 0} ||
			k.phase[2] != [4]int64{-2, 21, 9, -1} {
			panic(fmt.Sprintf("interp: factor 3 weights %v over %d", k.phase, k.den))
		}
		k.lut3 = new([lut3Len]uint8)
		for v := int64(-lut3Off); v+lut3Off < lut3Len; v++ {
			k.lut3[v+lut3Off] = roundDiv(v, 27)
		}
	}
	return k, nil
}

// CheckGeometry reports whether frames of width x height can be enlarged factor times.
func CheckGeometry(width, height, factor int) error {
	switch {
	case width < 2:
		return fmt.Errorf("width %d: must be at least 2 (cubic interpolation between columns needs two)", width)
	case height < 1:
		return fmt.Errorf("height %d: must be at least 1", height)
	case factor < 1:
		return fmt.Errorf("factor %d: must be at least 1", factor)
	case factor > MaxFactor:
		return fmt.Errorf("factor %d: must be at most %d", factor, MaxFactor)
	case width > maxPixels/height/factor:
		return fmt.Errorf("%dx%d frames enlarged %d times: more than %d output pixels per frame", width, height, factor, maxPixels)
	}
	return nil
}

// cubicNum returns the Catmull-Rom (a = -0.5) weight at t = n/q times 2q^3, an integer:
//
//	|t| <= 1:     1.5|t|^3 - 2.5|t|^2 + 1
//	1 < |t| < 2: -0.5|t|^3 + 2.5|t|^2 - 4|t| + 2
//	otherwise:    0
func cubicNum(n, q int64) int64 {
	m := abs64(n)
	switch {
	case m <= q:
		return 3*m*m*m - 5*m*m*q + 2*q*q*q
	case m < 2*q:
		return -m*m*m + 5*m*m*q - 8*m*q*q + 4*q*q*q
	}
	return 0
}

// roundDiv returns v/d rounded to the nearest integer (halves up) and clamped to 0..255;
// d > 0.
func roundDiv(v, d int64) uint8 {
	r := (2*v + d) / (2 * d) // truncation differs from floor only below 0, clamped anyway
	if r <= 0 {
		return 0
	}
	if r >= 255 {
		return 255
	}
	return uint8(r)
}

func abs64(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}

func gcd(a, b int64) int64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// Width, Height and Factor return the kernel's geometry.
func (k *Kernel) Width() int  { return k.w }
func (k *Kernel) Height() int { return k.h }
func (k *Kernel) Factor() int { return k.f }

// InSize is the size of an input frame in bytes; OutSize of an output frame.
func (k *Kernel) InSize() int  { return k.w * k.h }
func (k *Kernel) OutSize() int { return k.ow * k.h }

// Enlarge writes the enlarged frame src into dst. len(src) must be InSize and len(dst)
// OutSize; it panics otherwise. It allocates nothing.
func (k *Kernel) Enlarge(dst, src []byte) {
	if len(src) != k.InSize() || len(dst) != k.OutSize() {
		panic(fmt.Sprintf("interp: Enlarge: %d-byte source and %d-byte destination for %dx%d x%d frames (want %d and %d)",
			len(src), len(dst), k.w, k.h, k.f, k.InSize(), k.OutSize()))
	}
	if k.f == 1 {
		copy(dst, src)
		return
	}
	for y := 0; y < k.h; y++ {
		s := src[y*k.w : (y+1)*k.w]
		d := dst[y*k.ow : (y+1)*k.ow]
		switch {
		case k.lut3 != nil:
			edges3(d, s, k.lut3)
			row3(d, s, k.lut3)
		case k.lut != nil:
			k.edges(d, s)
			k.rowLUT(d, s)
		default:
			k.edges(d, s)
			k.rowDiv(d, s)
		}
	}
}

// EnlargeFrames enlarges every frame of src (a whole number of input frames) into dst
// (as many output frames) and returns the number of frames.
func (k *Kernel) EnlargeFrames(dst, src []byte) (int, error) {
	in, out := k.InSize(), k.OutSize()
	if len(src)%in != 0 {
		return 0, fmt.Errorf("%d bytes is not a whole number of %dx%d frames", len(src), k.w, k.h)
	}
	n := len(src) / in
	if len(dst) != n*out {
		return 0, fmt.Errorf("destination of %d bytes for %d frames of %d bytes", len(dst), n, out)
	}
	for i := 0; i < n; i++ {
		k.Enlarge(dst[i*out:(i+1)*out], src[i*in:(i+1)*in])
	}
	return n, nil
}

// edges computes the output columns near both edges of one row.
func (k *Kernel) edges(d, s []byte) {
	for i := range k.edge {
		e := &k.edge[i]
		v := e.c[0]*int64(s[e.idx[0]]) + e.c[1]*int64(s[e.idx[1]]) +
			e.c[2]*int64(s[e.idx[2]]) + e.c[3]*int64(s[e.idx[3]])
		d[e.x] = e.round(v)
	}
}

// rowLUT computes the interior of one row for any factor whose sums fit the table.
func (k *Kernel) rowLUT(d, s []byte) {
	f, lut, off := k.f, k.lut, k.lutOff
	for kk := k.lo; kk < k.hi; kk++ {
		o := d[kk*f : kk*f+f]
		for p := range o {
			t := s[kk+k.phaseFirst[p]:]
			c := &k.phase[p]
			v := c[0]*int64(t[0]) + c[1]*int64(t[1]) + c[2]*int64(t[2]) + c[3]*int64(t[3])
			o[p] = lut[v+off]
		}
	}
}

// rowDiv computes the interior of one row with a division per pixel (large factors).
func (k *Kernel) rowDiv(d, s []byte) {
	f, den := k.f, k.den
	for kk := k.lo; kk < k.hi; kk++ {
		o := d[kk*f : kk*f+f]
		for p := range o {
			t := s[kk+k.phaseFirst[p]:]
			c := &k.phase[p]
			v := c[0]*int64(t[0]) + c[1]*int64(t[1]) + c[2]*int64(t[2]) + c[3]*int64(t[3])
			o[p] = roundDiv(v, den)
		}
	}
}

// The factor-3 table maps every sum -3*255 .. 30*255, offset by lut3Off, to its rounded
// and clamped grey level; its length lets a uint16 index it without a bounds check.
const (
	lut3Off = 3 * 255
	lut3Len = 1 << 16
)

// Lane constants of row3: four 16-bit lanes in a uint64.
const (
	evenBytes = 0x00FF00FF00FF00FF
	lanesOff  = lut3Off * 0x0001000100010001
)

// row3 is the factor-3 interior: output 3k+1 copies source k, 3k and 3k+2 are
// (-1, 9, 21, -2)/27 over k-2..k+1 and (-2, 21, 9, -1)/27 over k-1..k+2; lut rounds and
// clamps.
//
// Eight source columns at a time, the sums are computed in four 16-bit lanes of a uint64
// (SIMD within a register): three 8-byte loads at k-2, k and k+2 split into even and odd
// bytes give every tap of columns k, k+2, k+4, k+6 (even) and k+1, ..., k+7 (odd). Each
// lane starts at lut3Off + 30*255 at most and never goes below 0, so no lane carries or
// borrows into the next. The last columns go one at a time.
func row3(d, s []byte, lut *[lut3Len]uint8) {
	n := len(s)
	if n < 5 || len(d) < 3*n {
		return
	}
	k := 2
	for ; k+10 <= n; k += 8 {
		t := s[k-2 : k+10 : k+10] // one bounds check for the three loads
		x := binary.LittleEndian.Uint64(t[0:8])
		y := binary.LittleEndian.Uint64(t[2:10])
		z := binary.LittleEndian.Uint64(t[4:12])
		hi0 := x >> 8 & evenBytes               // s[k-1+2j]
		lo1, hi1 := y&evenBytes, y>>8&evenBytes // s[k+2j], s[k+1+2j]: also the copies
		lo2 := z & evenBytes                    // s[k+2+2j]
		o := d[3*k : 3*k+24 : 3*k+24]
		// Even columns k+2j first, then odd ones, to keep few values live at once.
		e0 := 9*hi0 + 21*lo1 + lanesOff - x&evenBytes - 2*hi1 // 3(k+2j)
		e2 := 21*lo1 + 9*hi1 + lanesOff - 2*hi0 - lo2         // 3(k+2j)+2
		o[0], o[1], o[2] = lut[uint16(e0)], byte(lo1), lut[uint16(e2)]
		o[6], o[7], o[8] = lut[uint16(e0>>16)], byte(lo1>>16), lut[uint16(e2>>16)]
		o[12], o[13], o[14] = lut[uint16(e0>>32)], byte(lo1>>32), lut[uint16(e2>>32)]
		o[18], o[19], o[20] = lut[uint16(e0>>48)], byte(lo1>>48), lut[uint16(e2>>48)]
		o0 := 9*lo1 + 21*hi1 + lanesOff - hi0 - 2*lo2            // 3(k+1+2j)
		o2 := 21*hi1 + 9*lo2 + lanesOff - 2*lo1 - z>>8&evenBytes // 3(k+1+2j)+2; s[k+3+2j]
		o[3], o[4], o[5] = lut[uint16(o0)], byte(hi1), lut[uint16(o2)]
		o[9], o[10], o[11] = lut[uint16(o0>>16)], byte(hi1>>16), lut[uint16(o2>>16)]
		o[15], o[16], o[17] = lut[uint16(o0>>32)], byte(hi1>>32), lut[uint16(o2>>32)]
		o[21], o[22], o[23] = lut[uint16(o0>>48)], byte(hi1>>48), lut[uint16(o2>>48)]
	}
	for ; k+2 < n; k++ {
		a, b, c, e, g := int32(s[k-2]), int32(s[k-1]), int32(s[k]), int32(s[k+1]), int32(s[k+2])
		o := d[3*k : 3*k+3 : 3*k+3]
		o[0] = lut[uint16(9*b+21*c-a-2*e+lut3Off)]
		o[1] = byte(c)
		o[2] = lut[uint16(21*c+9*e-2*b-g+lut3Off)]
	}
}

// edges3 is the factor-3 edge columns (the two source columns at each side) with their
// renormalised weights written out: taps -2 and -1 dropped leave (21, -2)/19 at column 0,
// tap -1 dropped leaves (21, 9, -1)/29 at column 2 and (9, 21, -2)/28 at column 3; the right
// edge mirrors it. len(s) must be at least 5.
func edges3(d, s []byte, lut *[lut3Len]uint8) {
	n := len(s)
	if n < 5 || len(d) != 3*n {
		return
	}
	a, b, c, e := int32(s[0]), int32(s[1]), int32(s[2]), int32(s[3])
	l := d[:6:6]
	l[0] = round3(21*a-2*b, 19)
	l[1] = byte(a)
	l[2] = round3(21*a+9*b-c, 29)
	l[3] = round3(9*a+21*b-2*c, 28)
	l[4] = byte(b)
	l[5] = lut[uint16(21*b+9*c-2*a-e+lut3Off)]
	a, b, c, e = int32(s[n-1]), int32(s[n-2]), int32(s[n-3]), int32(s[n-4]) // mirrored
	r := d[3*n-6 : 3*n : 3*n]
	r[5] = round3(21*a-2*b, 19)
	r[4] = byte(a)
	r[3] = round3(21*a+9*b-c, 29)
	r[2] = round3(9*a+21*b-2*c, 28)
	r[1] = byte(b)
	r[0] = lut[uint16(21*b+9*c-2*a-e+lut3Off)]
}

// round3 is roundDiv for the small constant divisors of edges3 (compiled to multiplies).
func round3(v, d int32) uint8 {
	r := (2*v + d) / (2 * d)
	return uint8(min(max(r, 0), 255))
}

// CatmullRom is the cubic convolution kernel with a = -0.5, the reference for the
// integer weights.
func CatmullRom(t float64) float64 {
	t = math.Abs(t)
	switch {
	case t <= 1:
		return (1.5*t-2.5)*t*t + 1
	case t < 2:
		return ((-0.5*t+2.5)*t-4)*t + 2
	}
	return 0
}

// EnlargeReference is the generic floating-point path, for tests and as the definition:
// for every output column it computes the source position and the four weights from
// CatmullRom, drops taps outside the frame, renormalises and rounds (halves up).
// It allocates nothing but is much slower than Kernel.Enlarge.
func EnlargeReference(dst, src []byte, width, height, factor int) {
	ow := width * factor
	for y := 0; y < height; y++ {
		s := src[y*width : (y+1)*width]
		d := dst[y*ow : (y+1)*ow]
		for x := range d {
			sx := (float64(x)+0.5)/float64(factor) - 0.5
			base := int(math.Floor(sx))
			var sum, tw float64
			for j := base - 1; j <= base+2; j++ {
				if j < 0 || j >= width {
					continue
				}
				w := CatmullRom(sx - float64(j))
				sum += w * float64(s[j])
				tw += w
			}
			// The exact result is a fraction v/S with S below 16*factor^3*1.2; a half is a
			// tie that float rounding may leave a hair below .5, while every non-tie is at
			// least 1/(2S) > 1.5e-9 away from it up to MaxFactor: a 1e-9 nudge makes ties go
			// up, as in the integer path, and changes nothing else.
			v := math.Floor(sum/tw + 0.5 + 1e-9)
			d[x] = uint8(min(max(v, 0), 255))
		}
	}
}
