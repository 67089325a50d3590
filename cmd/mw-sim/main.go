// Command mw-sim predicts how mw's manager scales past this machine: it runs the real
// manager (rank.Simulate) against thousands of simulated workers on a simulated network, for
// every combination of worker count, item time and chunk size asked for, prints one row per
// run and the manager's saturation point, and draws the predicted efficiency against the
// worker count as an SVG.
//
// Usage:
//
//	mw-sim [flags]
//
// Efficiency is the items' total compute time over (workers x makespan): 1 when every worker
// computes all the time. The manager's time is its own measured CPU time between transport
// calls (this machine's core; -speed scales it), the network is -net's model, and the workers
// are the model's: a chunk takes exactly its items' time. A job has -per-worker items per
// worker, so the start (dealing the first window to every worker) and the tail weigh the same
// at every scale.
//
// Example:
//
//	go run ./cmd/mw-sim -svg sim.svg
//	go run ./cmd/mw-sim -workers 10000 -items 10ms -chunks 1,auto -backups -svg ''
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/mw-hpc/mw/rank"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	switch {
	case err == nil:
	case errors.Is(err, flag.ErrHelp):
		os.Exit(0)
	case errors.Is(err, errUsage):
		fmt.Fprintf(os.Stderr, "mw-sim: %v\n", err)
		os.Exit(2)
	default:
		fmt.Fprintf(os.Stderr, "mw-sim: %v\n", err)
		os.Exit(1)
	}
}

var errUsage = errors.New("usage")

func usagef(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errUsage, fmt.Sprintf(format, args...))
}

type options struct {
	net       string
	workers   []int
	items     []time.Duration
	chunks    []int // 0 = auto
	perWorker int
	threads   int
	dist      string
	window    int
	mode      string
	backups   bool
	unordered bool
	speed     float64
	svg       string
	sat       bool
	lost      float64
	lostBy    string
	timeout   time.Duration
	phases    bool
	profile   string
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, net, mode, err := parseOptions(args, stderr)
	if err != nil {
		return err
	}
	if o.profile != "" {
		stop, err := startProfile(o.profile)
		if err != nil {
			return err
		}
		defer stop()
	}
	cfg := rank.DefaultConfig()
	cfg.Window, cfg.Mode, cfg.Backups, cfg.Unordered = o.window, mode, o.backups, o.unordered
	cfg.WorkerTimeout = o.timeout

	fmt.Fprintf(stdout, "# net %s (latency %v, %.1f GB/s, overhead %v per message), %s items, %d per worker thread, %d threads per worker rank, window %d, %s, backups %v, unordered %v, manager speed %g\n",
		o.net, net.Latency, net.Bandwidth/1e9, net.Overhead, o.dist, o.perWorker, o.threads, o.window, mode, o.backups, o.unordered, o.speed)
	if o.lost > 0 {
		fmt.Fprintf(stdout, "# %.2f%% of the workers lost at random moments, found by %s (worker timeout %v)\n", 100*o.lost, o.lostBy, o.timeout)
	}
	if o.sat {
		if err := printSaturation(ctx, stdout, net, cfg, o.speed); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "%8s %6s %6s %10s %11s %10s %9s %10s %7s %9s\n",
		"workers", "item", "chunk", "efficiency", "makespan", "ideal", "mgr busy", "msgs/s", "largest", "real")
	pts, err := simulateRows(ctx, stdout, o, net, cfg)
	if err != nil {
		return err
	}
	if o.svg == "" {
		return nil
	}
	sub := fmt.Sprintf("%s network (%v, %.1f GB/s, %v per message), %s item times, %d items per worker, window %d, %s, backups %v",
		o.net, net.Latency, net.Bandwidth/1e9, net.Overhead, o.dist, o.perWorker, o.window, mode, o.backups)
	if err := os.WriteFile(o.svg, plot("mw's manager past this machine, simulated: predicted efficiency", sub, o, pts), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "# wrote %s\n", o.svg)
	return nil
}

// parseOptions reads the command line: the options, the network model and the mode.
func parseOptions(args []string, stderr io.Writer) (options, rank.NetModel, rank.Mode, error) {
	fs := flag.NewFlagSet("mw-sim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	workers := fs.String("workers", "1000,3000,10000,30000,100000", "simulated worker counts, comma-separated")
	items := fs.String("items", "1ms,10ms,100ms", "item times, comma-separated")
	chunks := fs.String("chunks", "1,16,auto", "items per chunk, comma-separated (auto: the engine's sizing)")
	fs.StringVar(&o.net, "net", "local", "network model: local (this machine's MPI) or cluster (2 us, 10 GB/s)")
	fs.IntVar(&o.perWorker, "per-worker", 32, "items per worker thread in each job")
	fs.IntVar(&o.threads, "threads", 1, "computing threads per worker rank (workers counts ranks)")
	fs.StringVar(&o.dist, "dist", "fixed", "item times: fixed, exp (exponential) or pareto (shape 2.5, a long tail)")
	fs.IntVar(&o.window, "window", 2, "chunks in flight per worker")
	fs.StringVar(&o.mode, "mode", "push", "push or pull")
	fs.BoolVar(&o.backups, "backups", false, "backup copies of the last chunks (the engine's default; slow to simulate past 10,000 workers)")
	fs.BoolVar(&o.unordered, "unordered", false, "results reach the sink as they come (no reorder buffer)")
	fs.Float64Var(&o.speed, "speed", 1, "the manager's core, relative to this machine's")
	fs.StringVar(&o.svg, "svg", "sim.svg", "write the efficiency plot to `FILE` ('' for none)")
	fs.BoolVar(&o.sat, "saturation", true, "measure the manager's saturation point first")
	fs.Float64Var(&o.lost, "lost", 0, "lose this `FRACTION` of the workers at random moments of each run (0.01: 1%)")
	fs.StringVar(&o.lostBy, "lost-by", "notice", "how the manager finds a lost worker: notice (the launcher's, 125 ms later) or timeout (its silence)")
	fs.DurationVar(&o.timeout, "worker-timeout", 0, "the engine's --worker-timeout (0: its default)")
	fs.BoolVar(&o.phases, "phases", false, "after each row, where the lost efficiency went: the threads' idle time at the start, in the middle and in the tail")
	fs.StringVar(&o.profile, "cpuprofile", "", "write a CPU profile of the simulations (the manager's code and the simulator's) to `FILE`")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return o, rank.NetModel{}, 0, err
		}
		return o, rank.NetModel{}, 0, usagef("%v", err)
	}
	if fs.NArg() > 0 {
		return o, rank.NetModel{}, 0, usagef("unexpected argument %q", fs.Arg(0))
	}
	if err := o.parseLists(*workers, *items, *chunks); err != nil {
		return o, rank.NetModel{}, 0, err
	}
	net, ok := map[string]rank.NetModel{"local": rank.NetLocal, "cluster": rank.NetCluster}[o.net]
	if !ok {
		return o, rank.NetModel{}, 0, usagef("-net %q: must be local or cluster", o.net)
	}
	mode, err := rank.ParseMode(o.mode)
	if err != nil {
		return o, rank.NetModel{}, 0, usagef("-mode %q: %v", o.mode, err)
	}
	if o.perWorker < 1 || o.window < 1 || o.speed <= 0 || o.threads < 1 {
		return o, rank.NetModel{}, 0, usagef("-per-worker, -threads, -window and -speed must be positive")
	}
	if o.lost < 0 || o.lost > 1 || o.timeout < 0 || (o.lostBy != "notice" && o.lostBy != "timeout") {
		return o, rank.NetModel{}, 0, usagef("-lost must be a fraction from 0 to 1, -worker-timeout not negative, -lost-by notice or timeout")
	}
	return o, net, mode, nil
}

// parseLists reads the comma-separated lists of worker counts, item times and chunk sizes.
func (o *options) parseLists(workers, items, chunks string) error {
	var err error
	if o.workers, err = parseList(workers, strconv.Atoi); err != nil {
		return usagef("-workers: %v", err)
	}
	if o.items, err = parseList(items, time.ParseDuration); err != nil {
		return usagef("-items: %v", err)
	}
	if o.chunks, err = parseList(chunks, func(s string) (int, error) {
		if s == "auto" {
			return 0, nil
		}
		n, err := strconv.Atoi(s)
		if err == nil && n < 1 {
			err = errors.New("must be at least 1")
		}
		return n, err
	}); err != nil {
		return usagef("-chunks: %v", err)
	}
	return nil
}

// printSaturation prints the manager's saturation point: its rate with 100 and 10,000
// workers of empty items, when it never waits.
func printSaturation(ctx context.Context, stdout io.Writer, net rank.NetModel, cfg rank.Config, speed float64) error {
	for _, w := range []int{100, 10000} {
		sc := rank.SimConfig{Workers: w, Items: 1 << 20, Item: 1, Chunk: 1, Net: net, Engine: cfg, ManagerSpeed: speed}
		sc.Engine.Backups = false
		r, err := rank.Simulate(ctx, sc)
		if err != nil {
			return fmt.Errorf("saturation: %w", err)
		}
		fmt.Fprintf(stdout, "# saturation, %d workers, empty items, chunk 1: the manager sustains %.2fM messages/s (%.2fM chunks/s; %.0f ns of manager time per message)\n",
			w, r.Capacity()/1e6, float64(r.Stats.Chunks)/r.ManagerBusy.Seconds()/1e6, r.ManagerBusy.Seconds()/float64(r.Messages)*1e9)
	}
	return nil
}

// simulateRows simulates and prints a row for each item time, chunk size and worker count,
// and returns the points for the plot.
func simulateRows(ctx context.Context, stdout io.Writer, o options, net rank.NetModel, cfg rank.Config) ([]point, error) {
	var pts []point
	for _, item := range o.items {
		for _, chunk := range o.chunks {
			for _, w := range o.workers {
				sc := rank.SimConfig{Workers: w, Threads: o.threads, Items: uint64(o.perWorker) * uint64(w*o.threads), Item: item, Chunk: chunk,
					Net: net, Engine: cfg, ManagerSpeed: o.speed, Lost: o.lost, ByTimeout: o.lostBy == "timeout", Seed: 1}
				switch o.dist {
				case "fixed":
				case "exp":
					sc.ItemTime = rank.ExpItemTime(item, 1)
				case "pareto":
					sc.ItemTime = rank.ParetoItemTime(item, 2.5, 1)
				default:
					return nil, usagef("-dist %q: must be fixed, exp or pareto", o.dist)
				}
				r, err := rank.Simulate(ctx, sc)
				if err != nil {
					return nil, fmt.Errorf("%d workers, %v items, chunk %s: %w", w, item, chunkName(chunk), err)
				}
				ideal := r.Work / time.Duration(w*o.threads)
				fmt.Fprintf(stdout, "%8d %6v %6s %9.1f%% %11v %10v %8.1f%% %10.0f %7d %9v\n",
					w, item, chunkName(chunk), 100*r.Efficiency, r.Makespan.Round(time.Microsecond), ideal.Round(time.Microsecond),
					100*r.ManagerBusy.Seconds()/r.Makespan.Seconds(), r.MsgRate(), r.MaxChunk, r.Real.Round(time.Millisecond))
				pts = append(pts, point{item: item, chunk: chunk, workers: w, eff: r.Efficiency})
				if o.phases {
					printPhases(stdout, r, w*o.threads, sc.Items)
				}
			}
		}
	}
	return pts, nil
}

// printPhases says where a run's efficiency went: the share of the threads' time idle
// before their first chunk, between chunks while the source had more, and after the source
// ran dry (of which the stop: every thread idle from the last result to the end); when the
// last thread started, the source ran dry and the last result came; the chunks and what
// the manager did.
func printPhases(w io.Writer, r rank.SimResult, threads int, items uint64) {
	total := float64(threads) * r.Makespan.Seconds()
	pct := func(d time.Duration) float64 { return 100 * d.Seconds() / total }
	stop := 100 * (r.Makespan - r.Written).Seconds() / r.Makespan.Seconds()
	fmt.Fprintf(w, "#   idle: start %.1f%%, middle %.1f%%, tail %.1f%% (the stop %.1f%%); last thread started at %v, source dry at %v, last result at %v; %d chunks (%.0f items on average), %d frames, %d records, manager busy %v\n",
		pct(r.Idle.Start), pct(r.Idle.Middle), pct(r.Idle.Tail), stop, r.Dealt.Round(time.Microsecond), r.SourceDone.Round(time.Microsecond),
		r.Written.Round(time.Microsecond), r.Chunks, float64(items)/math.Max(1, float64(r.Chunks)), r.Messages, r.Records, r.ManagerBusy.Round(time.Microsecond))
	if r.Stats.MaxReorder > 0 {
		fmt.Fprintf(w, "#   reorder buffer: at most %d results held, %d spilled (%d bytes)\n", r.Stats.MaxReorder, r.Stats.Spilled, r.Stats.SpilledBytes)
	}
}

// startProfile starts a CPU profile into file path; stop ends it and closes the file.
func startProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

func parseList[T any](s string, parse func(string) (T, error)) ([]T, error) {
	var out []T
	for _, f := range strings.Split(s, ",") {
		v, err := parse(strings.TrimSpace(f))
		if err != nil {
			return nil, fmt.Errorf("%q: %v", f, err)
		}
		out = append(out, v)
	}
	return out, nil
}

func chunkName(c int) string {
	if c == 0 {
		return "auto"
	}
	return strconv.Itoa(c)
}

type point struct {
	item    time.Duration
	chunk   int
	workers int
	eff     float64
}

// plot draws efficiency (0-100%) against workers (log scale): a colour per item time, a
// dash pattern per chunk size, the 90% goal as a grey line.
func plot(title, sub string, o options, pts []point) []byte {
	p := newFrame(o.workers)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", plotW, plotH, plotW, plotH)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", plotW, plotH)
	fmt.Fprintf(&b, `<text x="%d" y="22" font-size="14" font-weight="bold">%s</text>`+"\n", plotLeft, esc(title))
	fmt.Fprintf(&b, `<text x="%d" y="42" fill="#444">%s</text>`+"\n", plotLeft, esc(sub))
	p.grid(&b)
	p.goal(&b)
	p.series(&b, o, pts)
	b.WriteString("</svg>\n")
	return []byte(b.String())
}

// The plot's size and margins, in pixels.
const (
	plotW, plotH                           = 900, 540
	plotLeft, plotRight, plotTop, plotBott = 70, 200, 64, 60
)

// frame is the plot's drawing area: pw x ph pixels, workers from 10^lo to 10^hi.
type frame struct {
	pw, ph, lo, hi float64
}

func newFrame(workers []int) frame {
	p := frame{pw: plotW - plotLeft - plotRight, ph: plotH - plotTop - plotBott}
	p.lo, p.hi = math.Log10(float64(workers[0])), math.Log10(float64(workers[0]))
	for _, n := range workers {
		p.lo, p.hi = math.Min(p.lo, math.Log10(float64(n))), math.Max(p.hi, math.Log10(float64(n)))
	}
	p.lo, p.hi = math.Floor(p.lo), math.Ceil(p.hi)
	if p.hi == p.lo {
		p.hi = p.lo + 1
	}
	return p
}

func (p frame) x(n int) float64 { return p.xf(float64(n)) }

func (p frame) xf(n float64) float64 { return plotLeft + p.pw*(math.Log10(n)-p.lo)/(p.hi-p.lo) }

func (p frame) y(e float64) float64 { return plotTop + p.ph*(1-e) }

// grid draws the grid, the axes' ticks and labels, and the frame.
func (p frame) grid(b *strings.Builder) {
	for e := 0.0; e <= 1.0001; e += 0.1 {
		fmt.Fprintf(b, `<line x1="%d" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#e5e5e5"/>`+"\n", plotLeft, p.y(e), plotLeft+p.pw, p.y(e))
		fmt.Fprintf(b, `<text x="%d" y="%.1f" text-anchor="end">%.0f%%</text>`+"\n", plotLeft-6, p.y(e)+4, 100*e)
	}
	for d := p.lo; d <= p.hi; d++ {
		for k := 1; k < 10 && d+math.Log10(float64(k)) <= p.hi; k++ {
			n := math.Pow(10, d) * float64(k)
			xx := p.xf(n)
			stroke := "#f0f0f0"
			if k == 1 {
				stroke = "#d0d0d0"
				fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`+"\n", xx, plotTop+p.ph+18, commas(int(n)))
			}
			fmt.Fprintf(b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%.1f" stroke="%s"/>`+"\n", xx, plotTop, xx, plotTop+p.ph, stroke)
		}
	}
}

// goal draws the 90% line, its mark at 10,000 workers, the frame and the axes' titles.
func (p frame) goal(b *strings.Builder) {
	fmt.Fprintf(b, `<line x1="%d" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#888" stroke-dasharray="4,4"/>`+"\n", plotLeft, p.y(0.9), plotLeft+p.pw, p.y(0.9))
	if n := 10000; float64(n) >= math.Pow(10, p.lo) && float64(n) <= math.Pow(10, p.hi) {
		fmt.Fprintf(b, `<path d="M%.1f %.1f l-6 -6 m6 6 l6 -6 m-6 6 l-6 6 m6 -6 l6 6" stroke="#444" stroke-width="1.5"/>`+"\n", p.x(n), p.y(0.9))
	}
	fmt.Fprintf(b, `<text x="%d" y="%.1f" fill="#666">goal: 90%% at 10,000 workers with 10 ms items (x)</text>`+"\n", plotLeft+6, p.y(0.9)+14)
	fmt.Fprintf(b, `<rect x="%d" y="%d" width="%.0f" height="%.0f" fill="none" stroke="#444"/>`+"\n", plotLeft, plotTop, p.pw, p.ph)
	fmt.Fprintf(b, `<text x="%.1f" y="%d" text-anchor="middle">simulated workers (1 thread each)</text>`+"\n", plotLeft+p.pw/2, plotH-18)
	fmt.Fprintf(b, `<text transform="translate(18 %.1f) rotate(-90)" text-anchor="middle">predicted efficiency</text>`+"\n", plotTop+p.ph/2)
}

// series draws one line per (item time, chunk), with its entry in the legend.
func (p frame) series(b *strings.Builder, o options, pts []point) {
	colors := []string{"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"}
	dashes := []string{"", "8,4", "2,3", "12,3,2,3"}
	ly := plotTop + 10
	for i, item := range o.items {
		for j, chunk := range o.chunks {
			color, da := colors[i%len(colors)], ""
			if dash := dashes[j%len(dashes)]; dash != "" {
				da = ` stroke-dasharray="` + dash + `"`
			}
			var path strings.Builder
			for _, pt := range pts {
				if pt.item == item && pt.chunk == chunk {
					cmd := "L"
					if path.Len() == 0 {
						cmd = "M"
					}
					fmt.Fprintf(&path, "%s%.1f %.1f ", cmd, p.x(pt.workers), p.y(pt.eff))
					fmt.Fprintf(b, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"/>`+"\n", p.x(pt.workers), p.y(pt.eff), color)
				}
			}
			fmt.Fprintf(b, `<path d="%s" fill="none" stroke="%s" stroke-width="2"%s/>`+"\n", strings.TrimSpace(path.String()), color, da)
			lx := plotLeft + p.pw + 16
			fmt.Fprintf(b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="%s" stroke-width="2"%s/>`+"\n", lx, ly, lx+30, ly, color, da)
			fmt.Fprintf(b, `<text x="%.1f" y="%d">%v, chunk %s</text>`+"\n", lx+36, ly+4, item, chunkName(chunk))
			ly += 18
		}
		ly += 6
	}
}

func esc(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

func commas(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
