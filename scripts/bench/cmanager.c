/*
 * cmanager: the C reference for the manager/worker message rate. Rank 0 hands out N 8-byte
 * tasks to the other ranks, keeping W tasks in flight per worker; each worker answers each
 * task with an 8-byte reply, and rank 0 gives the worker that answered its next task. Rank 0
 * checks the replies and prints
 *
 *   tasks N workers K window W seconds T tasks/s R
 *
 * Usage: mpirun -np K+1 cmanager [N [W]]   (defaults: N = 200000, W = 4)
 * Build: mpicc -O2 -o cmanager cmanager.c
 */
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

enum { TAG_TASK = 1, TAG_REPLY = 2, TAG_STOP = 3 };

static void check(int rc, const char *call) {
    if (rc != MPI_SUCCESS) {
        char msg[MPI_MAX_ERROR_STRING];
        int n;
        MPI_Error_string(rc, msg, &n);
        fprintf(stderr, "cmanager: %s: %s\n", call, msg);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    long n = argc > 1 ? atol(argv[1]) : 200000;
    long w = argc > 2 ? atol(argv[2]) : 4;
    if (size < 2 || n < 1 || w < 1 || argc > 3) {
        if (rank == 0)
            fprintf(stderr, "usage: mpirun -np K+1 cmanager [N [W]]\n");
        MPI_Finalize();
        return 2;
    }
    check(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier");
    if (rank == 0) {
        double t0 = MPI_Wtime();
        int64_t next = 0, done = 0, sum = 0;
        for (long j = 0; j < w; j++)
            for (int k = 1; k < size && next < n; k++, next++)
                check(MPI_Send(&next, 8, MPI_BYTE, k, TAG_TASK, MPI_COMM_WORLD), "MPI_Send");
        while (done < n) {
            int64_t reply;
            MPI_Status st;
            check(MPI_Recv(&reply, 8, MPI_BYTE, MPI_ANY_SOURCE, TAG_REPLY, MPI_COMM_WORLD, &st), "MPI_Recv");
            done++;
            sum += reply;
            if (next < n) {
                check(MPI_Send(&next, 8, MPI_BYTE, st.MPI_SOURCE, TAG_TASK, MPI_COMM_WORLD), "MPI_Send");
                next++;
            }
        }
        for (int k = 1; k < size; k++)
            check(MPI_Send(NULL, 0, MPI_BYTE, k, TAG_STOP, MPI_COMM_WORLD), "MPI_Send");
        double t = MPI_Wtime() - t0;
        /* Each reply is 2*task + 1: the sum over tasks 0..n-1 is n*n. */
        if (sum != (int64_t)n * n) {
            fprintf(stderr, "cmanager: replies sum to %lld, want %lld\n", (long long)sum, (long long)n * n);
            MPI_Abort(MPI_COMM_WORLD, 1);
        }
        printf("tasks %ld workers %d window %ld seconds %.3f tasks/s %.0f\n", n, size - 1, w, t, n / t);
    } else {
        for (;;) {
            int64_t task;
            MPI_Status st;
            check(MPI_Recv(&task, 8, MPI_BYTE, 0, MPI_ANY_TAG, MPI_COMM_WORLD, &st), "MPI_Recv");
            if (st.MPI_TAG == TAG_STOP)
                break;
            int64_t reply = 2 * task + 1;
            check(MPI_Send(&reply, 8, MPI_BYTE, 0, TAG_REPLY, MPI_COMM_WORLD), "MPI_Send");
        }
    }
    MPI_Finalize();
    return 0;
}
