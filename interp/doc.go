// Package interp is mw's ultrasonic frame interpolation workload: `mw interp` enlarges
// every frame of an ordered stream of grey frames between columns, and `mw gen frames`
// makes synthetic frames to feed it.
//
// A scanner with an array of 56 sensors produces frames of 56 columns by 256 rows, one byte
// per pixel, 25 or more per second. For display each frame is enlarged by a factor 3 between
// columns, to 168 x 256. The manager reads the stream, deals chunks of frames to the
// workers and writes the enlarged frames in input order:
//
//	mw gen frames --count 20000 -o frames.pgm
//	mpirun -np 3 mw interp -i frames.pgm -o big.pgm --png look
//	mw gen frames --count 250 | mpirun -np 3 mw interp --fps 25 > /dev/null
//
// # Interpolation convention
//
// Rows are independent: each output row is the input row resampled. Output column x of a
// frame enlarged F times samples the input at pixel centres,
//
//	sx = (x + 0.5) / F - 0.5
//
// with the cubic convolution kernel of Keys with a = -0.5 (Catmull-Rom),
//
//	W(t) = 1.5|t|^3 - 2.5|t|^2 + 1           for |t| <= 1
//	W(t) = -0.5|t|^3 + 2.5|t|^2 - 4|t| + 2   for 1 < |t| < 2, 0 beyond,
//
// over the four input columns floor(sx)-1 .. floor(sx)+2. At the edges, taps outside the
// frame are dropped and the remaining weights renormalised to sum to 1 (as
// golang.org/x/image/draw and ImageMagick do). The result is rounded to the nearest grey
// level, halves up, and clamped to 0..255. Factor 1 returns the input. For factor 3 the
// output columns 3k+1 copy input column k, and columns 3k and 3k+2 weigh columns k-2..k+1
// by (-1, 9, 21, -2)/27 and k-1..k+2 by (-2, 21, 9, -1)/27.
//
// Kernel precomputes these weights as exact integer fractions, so that it uses integer
// arithmetic only and allocates nothing per frame; EnlargeReference is the same definition
// in floating point, and the tests hold the two equal byte for byte. The result is within
// one grey level of x/image/draw's CatmullRom scaler everywhere (it truncates where this
// package rounds).
//
// # Formats
//
// --format pgm (the default) reads a binary PGM stream: P5 images with maxval 255, one after
// another in one file as netpbm allows, comments and whitespace as netpbm reads them. Every
// frame must have the first frame's size (and --width x --height when those are given).
// --format raw reads frames of exactly --width x --height bytes. The output has the input's
// format. Input and output may be files or - (stdin, stdout); an output file is written
// under a temporary name and renamed only when complete, so a failed run leaves none.
// Bad input (an empty input, a truncated last frame, a header that is not P5, has another
// maxval or another size) ends the run with one line naming the input and the frame
// (counted from 1) and exit status 1; a bad flag value exits with status 2.
//
// # Chunks, real time and reports
//
// A chunk is --chunk consecutive frames (auto: about 256 KiB of input, 1 with --fps): more
// frames per chunk cost fewer messages, fewer give lower latency. --fps RATE paces the input
// as a scanner would: frame i is read no earlier than i/RATE after the start. The run then
// reports on stderr (unless --quiet) the latency of every frame, from its arrival (read by
// the manager) to its enlarged version being written, as p50, p99 and maximum, and how many
// frames missed the 1/RATE deadline. In real-time mode the manager sends an empty chunk when
// no frame arrives for half a millisecond, so that it writes results while it waits; the
// engine's chunk counts include these.
//
// --png PREFIX also writes the first input frame and its enlarged version as PREFIX-in.png
// and PREFIX-out.png, for a person to look at.
//
// The engine's flags (--window, --threads, --retries, --stats, --quiet) work as in every
// workload; see `mw interp -h`.
package interp
