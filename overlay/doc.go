// Package overlay is mw's polygon overlay of two rectangle maps (a GIS workload).
//
//	mpirun -np N mw overlay -a A.csv -b B.csv [-o OUT.csv|OUT.geojson] [--chunk RECTS|auto] [--b-path]
//	mw gen map --rects N --width W --height H [--seed S] -o FILE.csv|FILE.geojson
//
// Two maps, A and B, each tile the same extent [0,W) x [0,H) with axis-aligned rectangles
// whose corners are integers. The overlay is every non-empty intersection of a rectangle of A
// with a rectangle of B, carrying the id and the attributes of both parents. Geometry is
// half-open: [x0,x1) x [y0,y1), so rectangles that only share an edge or a corner do not
// intersect and no zero-area piece is ever written.
//
// # How it runs
//
// Rank 0 reads and validates both maps before any work. By default it sends map B once to
// every worker (MPI_Bcast); with --b-path it sends only B's path and every worker reads the
// file itself (the shared-filesystem case). Each worker builds a grid index on B once. The
// manager then deals A in chunks of --chunk rectangles (in A's order; with --chunk auto the
// engine sizes them as the run goes); a worker returns the pieces of its chunk (index in A,
// index in B, clipped corners) and rank 0 writes them with both parents' attributes, in A's
// order and, within one rectangle of A, in B's order. Every -np, every --chunk and both ways
// of sending B give the same bytes. The engine's --journal and --resume work too: each chunk
// carries a checksum of both input files, so a resume refuses maps that changed.
//
// # Formats
//
// The format is chosen by the file's extension: .csv or .geojson (also .json).
//
// CSV: a header `id,xmin,ymin,xmax,ymax` followed by any attribute columns; one rectangle a
// line. The output's header is `a_id,b_id,xmin,ymin,xmax,ymax`, then A's attribute columns
// prefixed `a_`, then B's prefixed `b_`. Fields follow RFC 4180 (quotes where needed).
//
// GeoJSON: a FeatureCollection of Polygon features, each a single closed 5-point
// axis-aligned ring. A feature's id is its "id" member, or else its "id" property; the other
// properties are its attributes (columns in order of first appearance). A collection "bbox"
// [xmin, ymin, xmax, ymax], when present, is the extent and must start at 0,0. The output is
// a FeatureCollection whose features carry the properties a_id, b_id, a_<attr>..., b_<attr>...
// and counterclockwise rings, which QGIS opens as is.
//
// # Validation
//
// Both maps are checked before any work; the first problem is reported on one line naming
// the file, the line (CSV) or feature index (GeoJSON, from 0) and the rectangle's id:
// a malformed line, a non-integer or out-of-extent coordinate, an empty or inverted
// rectangle, a geometry that is not a closed axis-aligned rectangle, a duplicate id, an
// empty map, overlapping rectangles, a gap (a unit cell no rectangle covers), and maps A and
// B with different extents. The coverage check sorts the rectangles' vertical edges once
// (O(n log n)): at every x the left edges starting there must cover exactly what the right
// edges ending there cover, without overlaps, and at x=0 (x=W) they must cover [0,H).
//
// Coordinates are integers in [0, 2^30]; the extent is [0,W) x [0,H) with W and H the largest
// xmax and ymax (or the GeoJSON bbox).
//
// # Generator
//
// `mw gen map` writes a random tiling of about N rectangles made by recursive guillotine
// cuts, the same for the same --seed, with ids 1..N and one attribute column, class.
package overlay
