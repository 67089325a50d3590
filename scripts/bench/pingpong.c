/*
 * pingpong: MPI ping-pong between ranks 0 and 1, the C reference for cmd/mw-pingpong.
 *
 * Usage: mpirun -np 2 pingpong [-mprobe] [scale [trials]]
 *
 * For each size (0, 8, 44032 = one 168x256 frame plus header, 1 MiB) rank 0 sends a message
 * to rank 1 and waits for it to come back, iters(size)*scale times after a warm-up, in
 * `trials` trials (default 5). It prints one line per size with the best trial's half
 * round-trip latency in microseconds and bandwidth in MB/s (1e6 bytes/s):
 *
 *   size iters us MB/s
 *
 * Messages are received with MPI_Recv, or with -mprobe the way the Go binding's RecvInto does
 * (MPI_Mprobe, MPI_Get_count, MPI_Mrecv), to tell the cost of those calls from that of cgo.
 *
 * Build: mpicc -O2 -o pingpong pingpong.c
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const int sizes[] = {0, 8, 44032, 1 << 20};
static const int iters[] = {100000, 100000, 20000, 1000};

static int use_mprobe;

static void check(int rc, const char *call) {
    if (rc != MPI_SUCCESS) {
        char msg[MPI_MAX_ERROR_STRING];
        int n;
        MPI_Error_string(rc, msg, &n);
        fprintf(stderr, "pingpong: %s: %s\n", call, msg);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
}

/* pp_recv receives the n-byte message from peer, with MPI_Recv or as the Go binding does. */
static void pp_recv(char *buf, int n, int peer) {
    if (!use_mprobe) {
        check(MPI_Recv(buf, n, MPI_BYTE, peer, 1, MPI_COMM_WORLD, MPI_STATUS_IGNORE), "MPI_Recv");
        return;
    }
    MPI_Message msg;
    MPI_Status st;
    int count;
    check(MPI_Mprobe(peer, 1, MPI_COMM_WORLD, &msg, &st), "MPI_Mprobe");
    check(MPI_Get_count(&st, MPI_BYTE, &count), "MPI_Get_count");
    if (count > n) {
        fprintf(stderr, "pingpong: %d-byte message, want %d\n", count, n);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    check(MPI_Mrecv(buf, count, MPI_BYTE, &msg, MPI_STATUS_IGNORE), "MPI_Mrecv");
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (argc > 1 && strcmp(argv[1], "-mprobe") == 0) {
        use_mprobe = 1;
        argc--;
        argv++;
    }
    double scale = argc > 1 ? atof(argv[1]) : 1.0;
    int trials = argc > 2 ? atoi(argv[2]) : 5;
    if (size < 2 || scale <= 0 || trials < 1 || argc > 3) {
        if (rank == 0)
            fprintf(stderr, "usage: mpirun -np 2 pingpong [-mprobe] [scale [trials]]\n");
        MPI_Finalize();
        return 2;
    }
    char *buf = malloc(1 << 20);
    memset(buf, 1, 1 << 20);
    if (rank == 0)
        printf("%8s %8s %10s %10s\n", "size", "iters", "us", "MB/s");
    for (int s = 0; s < (int)(sizeof sizes / sizeof sizes[0]); s++) {
        int n = sizes[s];
        int it = (int)(iters[s] * scale);
        if (it < 1)
            it = 1;
        int warm = it / 10 + 1;
        double best = 1e300;
        for (int tr = 0; tr < trials; tr++) {
            check(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier");
            double t0 = 0;
            for (int i = -warm; i < it; i++) {
                if (i == 0)
                    t0 = MPI_Wtime();
                if (rank == 0) {
                    check(MPI_Send(buf, n, MPI_BYTE, 1, 1, MPI_COMM_WORLD), "MPI_Send");
                    pp_recv(buf, n, 1);
                } else if (rank == 1) {
                    pp_recv(buf, n, 0);
                    check(MPI_Send(buf, n, MPI_BYTE, 0, 1, MPI_COMM_WORLD), "MPI_Send");
                }
            }
            double t = (MPI_Wtime() - t0) / it / 2;
            if (t < best)
                best = t;
        }
        if (rank == 0)
            printf("%8d %8d %10.3f %10.1f\n", n, it, best * 1e6, n / (best * 1e6));
    }
    free(buf);
    MPI_Finalize();
    return 0;
}
