//go:build cgo

package mpitransport

import (
	"os"

	"github.com/mw-hpc/mw/mpi"
)

// eagerLimit is the largest message that Open MPI's shared memory transport (the vader BTL,
// sm from Open MPI 5 on) sends eagerly, that mw asks for: the largest it can, its fragment
// size (max_send_size). Open MPI's default, 4 KiB, sends a larger message by rendezvous: the
// sender waits until the receiver matches it, then the receiver copies it across with
// process_vm_readv. A worker's result of 4 to 32 KiB then waits on the manager's attention,
// and the manager pays a system call and a page walk for each; sent eagerly it costs two
// plain copies and no wait. The engine's frames of several records stay within it.
const eagerLimit = "32768"

// setEagerLimit sets eagerLimit as this process's default (mpi.SetParamDefault), unless the
// environment sets the eager limit itself (mpirun --mca btl_vader_eager_limit N, or
// OMPI_MCA_btl_vader_eager_limit=N; btl_sm_ for Open MPI 5), under either name. The variable
// stays in the environment: processes this one starts (mw exec's tasks) inherit it. Under
// MPICH's family it sets nothing: MPICH sends messages up to about 8 KiB eagerly already,
// and its counterpart (UCX_RNDV_THRESH) changed nothing measurable for larger results and
// would change the threshold over the network too (see the README's "Which MPI").
func setEagerLimit() error {
	if mpi.Implementation() != mpi.OpenMPI {
		return nil
	}
	for _, btl := range []string{"vader", "sm"} {
		if _, ok := os.LookupEnv("OMPI_MCA_btl_" + btl + "_eager_limit"); ok {
			return nil
		}
	}
	_, err := mpi.SetParamDefault("btl_"+mpi.SharedMemoryBTL()+"_eager_limit", eagerLimit)
	return err
}
