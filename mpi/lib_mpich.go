//go:build mpich && !mpicc

package mpi

// Built against MPICH (build tag mpich): its pkg-config file, mpich.pc. Intel MPI, Cray
// MPICH and MVAPICH share MPICH's mpi.h and ABI; where their pkg-config file has another
// name, build with the tag mpicc instead.

// #cgo pkg-config: mpich
import "C"
