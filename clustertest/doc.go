// Package clustertest runs mw on real clusters started on this machine, the two ways users
// run it beyond a laptop:
//
//   - Slurm: scripts/slurm/local-slurm.sh starts a one-node Slurm (munged, slurmctld, slurmd
//     from Debian's packages); every sbatch script of scripts/slurm/ is submitted to it and
//     must end COMPLETED with the bytes of a local run, a job whose task fails must end
//     FAILED with mw's exit code in `sacct -c`, a journaled job cancelled with scancel
//     midway and resubmitted with --resume must complete with the bytes of an
//     uninterrupted run, and a job whose worker rank is SIGKILLed midway (sbatch --no-kill,
//     mpirun --enable-recovery) must end COMPLETED with those bytes, naming the rank.
//   - Several hosts: scripts/cluster/netns-cluster.sh starts hosts h1, h2, h3 as network
//     namespaces on a private bridge, each with its own sshd and hostname; every workload run
//     by `mpirun --hostfile` over TCP must give the bytes of a local run with its ranks on
//     the three hosts; a killed rank or a host whose link goes down must end a journaled
//     job non-zero within 30 s, naming the lost rank or host, and a --resume run of the
//     same command across the hosts (every process of the faulted run gone, the link back
//     up) must then complete it with the bytes of an uninterrupted run. Under mpirun
//     --enable-recovery the same faults must cost only the lost worker: mw ends with the
//     bytes of an uninterrupted run, --stats naming the rank on its host and how it was
//     found (a killed rank by the launcher's notice, a host cut off by its silence).
//
// The tests need root and Debian's slurmctld, slurmd, slurm-client, munge and openssh-server
// (make deps installs them); where they cannot start the clusters (exit 77 of the scripts)
// they skip, saying why on stderr (go test -v shows it), or fail when MW_CLUSTER_REQUIRED=1
// is set. Everything they start they stop by pid, also when a test fails. The package has
// only tests.
package clustertest
