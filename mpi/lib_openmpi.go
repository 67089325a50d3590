//go:build !mpich && !mpicc

package mpi

// Built against Open MPI (the default): its pkg-config file, ompi-c.pc.

// #cgo pkg-config: ompi-c
import "C"
