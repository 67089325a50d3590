package interp

import (
	"math"
	"math/rand/v2"
)

// Generator makes synthetic B-mode-like frames, width columns (sensors) by height rows
// (depth): tissue layers and an anechoic cyst, fully developed speckle (Rayleigh), a few
// bright point reflectors that drift from frame to frame, attenuation with depth and log
// compression to grey levels.
//
// Frame i depends only on the geometry, the seed and i (a PCG stream seeded with (seed, i)),
// so frames can be made in any order and the same seed gives the same bytes on every run
// of a build. The layout is computed once in floating point; each frame uses integer
// arithmetic and tables only. A Generator is read-only after NewGenerator: Frame is safe
// for concurrent use.
type Generator struct {
	w, h       int
	seed       uint64
	base       []uint16 // tissue echo level times attenuation, 12-bit fixed point
	reflectors []reflector
	speckle    [4096]uint16 // Rayleigh quantiles with mean 1, 12-bit fixed point
	logc       [1 << 16]uint8
}

type reflector struct {
	x, y, amp        float64 // rest position (column, row) and echo amplitude (envelope units)
	dx, dy, period   float64 // drift amplitude (columns, rows) and period (frames)
	phase, sigmaX, s float64
}

// NewGenerator returns the generator for width x height frames (both at least 1) and seed.
func NewGenerator(width, height int, seed uint64) *Generator {
	g := &Generator{w: width, h: height, seed: seed, base: make([]uint16, width*height)}
	r := rand.New(rand.NewPCG(seed, 0x6c61796f7574)) // "layout"

	// Tissue: three to five layers of different echogenicity whose boundaries tilt a
	// little, a bright fascia line, and one round anechoic cyst.
	nl := 3 + r.IntN(3)
	bounds := make([]float64, nl+1)
	levels := make([]float64, nl+1)
	for i := range bounds {
		bounds[i] = (float64(i) + 0.3 + 0.4*r.Float64()) / float64(nl+1)
		levels[i] = 0.25 + 0.75*r.Float64()
	}
	tilt := (r.Float64() - 0.5) * 0.3
	fascia := 0.15 + 0.2*r.Float64()
	cx, cy := (0.25+0.5*r.Float64())*float64(width), (0.45+0.3*r.Float64())*float64(height)
	rad := (0.08 + 0.08*r.Float64()) * float64(min(width*3, height))
	for y := 0; y < height; y++ {
		depth := (float64(y) + 0.5) / float64(height)
		atten := math.Exp(-1.4 * depth)
		for x := 0; x < width; x++ {
			u := depth + tilt*((float64(x)+0.5)/float64(width)-0.5)
			lv := levels[0]
			for i, b := range bounds {
				if u >= b {
					lv = levels[i]
				}
			}
			if d := math.Abs(u - fascia); d < 0.012 {
				lv += 2.5 * (1 - d/0.012)
			}
			// The cyst is round on the display, where columns are 3 times wider.
			if dx, dy := 3*(float64(x)-cx), float64(y)-cy; dx*dx+dy*dy < rad*rad {
				lv = 0.02
			}
			g.base[y*width+x] = uint16(math.Round(4096 * lv * atten))
		}
	}

	// Point reflectors: bright, small, drifting like tissue under breathing.
	for i := 0; i < 3+r.IntN(3); i++ {
		g.reflectors = append(g.reflectors, reflector{
			x: float64(width) * (0.1 + 0.8*r.Float64()), y: float64(height) * (0.1 + 0.8*r.Float64()),
			amp: 20000 + 30000*r.Float64(),
			dx:  0.5 + 1.5*r.Float64(), dy: 1 + 4*r.Float64(), period: 25 + 75*r.Float64(),
			phase: 2 * math.Pi * r.Float64(), sigmaX: 0.7, s: 1.5,
		})
	}

	for i := range g.speckle {
		u := (float64(i) + 0.5) / float64(len(g.speckle))
		g.speckle[i] = uint16(math.Round(4096 * math.Sqrt(-2*math.Log(1-u)) / math.Sqrt(math.Pi/2)))
	}
	// Log compression of the envelope to grey levels, about 60 dB shown.
	for e := range g.logc {
		g.logc[e] = uint8(math.Round(255 * math.Log1p(float64(e)/64) / math.Log1p(65535.0/64)))
	}
	return g
}

// Frame writes frame i into dst (reused when it has the capacity) and returns it.
func (g *Generator) Frame(dst []byte, i int) []byte {
	n := g.w * g.h
	if cap(dst) < n {
		dst = make([]byte, n)
	}
	dst = dst[:n]
	var pcg rand.PCG
	pcg.Seed(g.seed, uint64(i))

	// Speckle times tissue, four pixels per random number; the envelope is kept in a
	// 16-bit range and log-compressed through the table.
	var bits uint64
	for p := 0; p < n; p++ {
		if p&3 == 0 {
			bits = pcg.Uint64()
		}
		s := uint32(g.speckle[bits&4095])
		bits >>= 16
		e := uint32(g.base[p]) * s >> 12
		dst[p] = g.logc[min(e, 65535)]
	}

	// Reflectors on top: a small Gaussian spot each, added to the envelope of its pixels.
	t := float64(i)
	for _, rf := range g.reflectors {
		x := rf.x + rf.dx*math.Sin(2*math.Pi*t/rf.period+rf.phase)
		y := rf.y + rf.dy*math.Sin(2*math.Pi*t/rf.period+rf.phase+1)
		for yy := int(y) - 4; yy <= int(y)+4; yy++ {
			if yy < 0 || yy >= g.h {
				continue
			}
			atten := math.Exp(-1.4 * (float64(yy) + 0.5) / float64(g.h))
			for xx := int(x) - 2; xx <= int(x)+2; xx++ {
				if xx < 0 || xx >= g.w {
					continue
				}
				dx, dy := (float64(xx)-x)/rf.sigmaX, (float64(yy)-y)/rf.s
				add := rf.amp * atten * math.Exp(-0.5*(dx*dx+dy*dy))
				p := yy*g.w + xx
				e := g.envelope(dst[p]) + add
				dst[p] = g.logc[int(min(e, 65535))]
			}
		}
	}
	return dst
}

// envelope inverts the log compression approximately (the centre of the grey level's range).
func (g *Generator) envelope(v uint8) float64 {
	return 64 * math.Expm1(float64(v)/255*math.Log1p(65535.0/64))
}
