// mw_pmix.h: the little of PMIx that WatchLost uses (lost.c), declared here so that mw needs
// no PMIx header or library to build: it finds Open MPI's own libpmix at run time.
//
// The types mirror pmix_common.h, the same in PMIx 3, 4 and 5 (PMIx keeps its ABI within the
// library's soname, libpmix.so.2): pmix_proc_t, pmix_data_array_t, pmix_proc_info_t,
// pmix_value_t (of whose union only the members used here and the largest, an envar, are
// named), pmix_info_t and pmix_query_t. TestPMIxABI checks them against pmix.h where it is
// installed.
#ifndef MW_PMIX_H
#define MW_PMIX_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define MW_PMIX_MAX_NSLEN 255
#define MW_PMIX_MAX_KEYLEN 511

#define MW_PMIX_SUCCESS 0
#define MW_PMIX_STRING 3
#define MW_PMIX_INFO 24
#define MW_PMIX_PROC_INFO 38
#define MW_PMIX_DATA_ARRAY 39

#define MW_PMIX_NSPACE "pmix.nspace"
#define MW_PMIX_QUERY_PROC_TABLE "pmix.qry.ptable"

typedef struct {
	char nspace[MW_PMIX_MAX_NSLEN + 1];
	uint32_t rank;
} mw_pmix_proc_t;

typedef struct {
	uint16_t type;
	size_t size;
	void *array;
} mw_pmix_data_array_t;

typedef struct {
	mw_pmix_proc_t proc;
	char *hostname;
	char *executable_name;
	pid_t pid;
	int exit_code;
	uint8_t state;
} mw_pmix_proc_info_t;

typedef struct {
	char *envar;
	char *value;
	char separator;
} mw_pmix_envar_t;

typedef struct {
	uint16_t type;
	union {
		char *string;
		mw_pmix_proc_info_t *pinfo;
		mw_pmix_data_array_t *darray;
		mw_pmix_envar_t envar; // the largest member: the union's size
	} data;
} mw_pmix_value_t;

typedef struct {
	char key[MW_PMIX_MAX_KEYLEN + 1];
	uint32_t flags;
	mw_pmix_value_t value;
} mw_pmix_info_t;

typedef struct {
	char **keys;
	mw_pmix_info_t *qualifiers;
	size_t nqual;
} mw_pmix_query_t;

// The C half of WatchLost (lost.c). None calls MPI, and none calls back into Go.

// mw_lost_open finds Open MPI's libpmix in this process (after MPI_Init) and joins its use of
// PMIx. It returns 0, or -1 with why filled.
int mw_lost_open(char *why, int whylen);

// mw_lost_poll asks the local PMIx server (Open MPI's daemon) for the job's process table
// once, and sets states[r] to the PMIx process state of rank r (0 for a rank not in the
// table). It returns a PMIx status (0: success).
int mw_lost_poll(uint8_t *states, int size);

// mw_lost_close leaves PMIx (Open MPI keeps its own use of it).
void mw_lost_close(void);

// mw_lost_error_string is PMIx's name for status.
const char *mw_lost_error_string(int status);

#endif
