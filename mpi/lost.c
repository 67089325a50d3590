// lost.c: the C half of WatchLost (lost.go): Open MPI's process table through PMIx, found at
// run time. See mw_pmix.h.
#define _GNU_SOURCE
#include "mw_pmix.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

typedef void (*mw_pmix_release_fn)(void *cbdata);
typedef void (*mw_pmix_info_fn)(int status, mw_pmix_info_t *info, size_t ninfo, void *cbdata,
				mw_pmix_release_fn release, void *release_cbdata);

// The PMIx functions used, from Open MPI's libpmix. PMIx_Query_info_nb, not the blocking
// PMIx_Query_info, which PMIx 3 lacks.
static struct {
	int (*initialized)(void);
	int (*init)(mw_pmix_proc_t *proc, mw_pmix_info_t *info, size_t ninfo);
	int (*finalize)(const mw_pmix_info_t *info, size_t ninfo);
	int (*query_nb)(mw_pmix_query_t *queries, size_t nqueries, mw_pmix_info_fn cb, void *cbdata);
	const char *(*error_string)(int status);
} px;

static mw_pmix_proc_t me;

int mw_lost_open(char *why, int whylen)
{
	// RTLD_NOLOAD: only the copy Open MPI loaded (its pmix component links it). Loading
	// another would start a second, uninitialized PMIx client.
	void *lib = dlopen("libpmix.so.2", RTLD_NOW | RTLD_NOLOAD);
	if (lib == NULL) {
		snprintf(why, whylen, "no libpmix.so.2 in this process (this Open MPI does not use an external PMIx library)");
		return -1;
	}
	px.initialized = (int (*)(void))dlsym(lib, "PMIx_Initialized");
	px.init = (int (*)(mw_pmix_proc_t *, mw_pmix_info_t *, size_t))dlsym(lib, "PMIx_Init");
	px.finalize = (int (*)(const mw_pmix_info_t *, size_t))dlsym(lib, "PMIx_Finalize");
	px.query_nb = (int (*)(mw_pmix_query_t *, size_t, mw_pmix_info_fn, void *))dlsym(lib, "PMIx_Query_info_nb");
	px.error_string = (const char *(*)(int))dlsym(lib, "PMIx_Error_string");
	if (!px.initialized || !px.init || !px.finalize || !px.query_nb || !px.error_string) {
		snprintf(why, whylen, "libpmix.so.2 lacks a PMIx function (PMIx_Init, PMIx_Query_info_nb...)");
		return -1;
	}
	if (!px.initialized()) {
		snprintf(why, whylen, "MPI did not start this process's PMIx client (a launcher without PMIx)");
		return -1;
	}
	int rc = px.init(&me, NULL, 0); // counted: Open MPI's own use of PMIx goes on
	if (rc != MW_PMIX_SUCCESS) {
		snprintf(why, whylen, "PMIx_Init: %s", px.error_string(rc));
		return -1;
	}
	return 0;
}

// A query on its way: the caller waits for answer() to fill it.
typedef struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int done, status;
	uint8_t *states;
	int size;
} mw_lost_req;

static void note(mw_lost_req *q, const mw_pmix_proc_info_t *p)
{
	if (p != NULL && p->proc.rank < (uint32_t)q->size)
		q->states[p->proc.rank] = p->state;
}

// answer runs on PMIx's progress thread with the process table: Open MPI 4.1 gives a data
// array of pmix_info_t each holding a pmix_proc_info_t, the PMIx standard a data array of
// pmix_proc_info_t.
static void answer(int status, mw_pmix_info_t *info, size_t ninfo, void *cbdata,
		   mw_pmix_release_fn release, void *release_cbdata)
{
	mw_lost_req *q = cbdata;
	for (size_t i = 0; status == MW_PMIX_SUCCESS && i < ninfo; i++) {
		mw_pmix_value_t *v = &info[i].value;
		if (strcmp(info[i].key, MW_PMIX_QUERY_PROC_TABLE) != 0 || v->type != MW_PMIX_DATA_ARRAY || v->data.darray == NULL)
			continue;
		mw_pmix_data_array_t *da = v->data.darray;
		for (size_t k = 0; k < da->size; k++) {
			if (da->type == MW_PMIX_PROC_INFO) {
				note(q, &((mw_pmix_proc_info_t *)da->array)[k]);
			} else if (da->type == MW_PMIX_INFO) {
				mw_pmix_value_t *e = &((mw_pmix_info_t *)da->array)[k].value;
				if (e->type == MW_PMIX_PROC_INFO)
					note(q, e->data.pinfo);
			}
		}
	}
	if (release != NULL)
		release(release_cbdata);
	pthread_mutex_lock(&q->mu);
	q->status = status;
	q->done = 1;
	pthread_cond_signal(&q->cv);
	pthread_mutex_unlock(&q->mu);
}

int mw_lost_poll(uint8_t *states, int size)
{
	char *keys[] = {MW_PMIX_QUERY_PROC_TABLE, NULL};
	mw_pmix_info_t qual;
	memset(&qual, 0, sizeof qual);
	strcpy(qual.key, MW_PMIX_NSPACE);
	qual.value.type = MW_PMIX_STRING;
	qual.value.data.string = me.nspace;
	mw_pmix_query_t query = {keys, &qual, 1};
	mw_lost_req q = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, states, size};
	memset(states, 0, (size_t)size);
	int rc = px.query_nb(&query, 1, answer, &q);
	if (rc != MW_PMIX_SUCCESS)
		return rc; // no answer will come
	pthread_mutex_lock(&q.mu);
	while (!q.done)
		pthread_cond_wait(&q.cv, &q.mu);
	pthread_mutex_unlock(&q.mu);
	pthread_cond_destroy(&q.cv);
	pthread_mutex_destroy(&q.mu);
	return q.status;
}

void mw_lost_close(void) { px.finalize(NULL, 0); }

const char *mw_lost_error_string(int status) { return px.error_string ? px.error_string(status) : "unknown PMIx status"; }
