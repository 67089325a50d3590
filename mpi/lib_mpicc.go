//go:build mpicc

package mpi

// Built with the tag mpicc: no pkg-config file; cgo's C compiler finds MPI itself
// (CC=mpicc, or Cray's cc), or CGO_CFLAGS and CGO_LDFLAGS say where it is (the Makefile's
// MPI=<pkg-config name> sets them from another pkg-config file, such as Intel MPI's).
