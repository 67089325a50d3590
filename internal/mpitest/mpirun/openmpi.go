//go:build !mpich

package mpirun

var current = openMPI
