// pmixabi.c (TestPMIxABI): mw_pmix.h against PMIx's own pmix.h. It fails to compile, or
// exits 1, where they differ.
#include <pmix.h>
#include <stdio.h>
#include <string.h>

#include "mw_pmix.h"

#define SAME_SIZE(a, b) _Static_assert(sizeof(a) == sizeof(b), "size of " #a)
#define SAME_AT(a, b, f) _Static_assert(offsetof(a, f) == offsetof(b, f), "offset of " #a "." #f)

SAME_SIZE(mw_pmix_proc_t, pmix_proc_t);
SAME_AT(mw_pmix_proc_t, pmix_proc_t, rank);
SAME_SIZE(mw_pmix_data_array_t, pmix_data_array_t);
SAME_AT(mw_pmix_data_array_t, pmix_data_array_t, size);
SAME_AT(mw_pmix_data_array_t, pmix_data_array_t, array);
SAME_SIZE(mw_pmix_proc_info_t, pmix_proc_info_t);
SAME_AT(mw_pmix_proc_info_t, pmix_proc_info_t, hostname);
SAME_AT(mw_pmix_proc_info_t, pmix_proc_info_t, pid);
SAME_AT(mw_pmix_proc_info_t, pmix_proc_info_t, exit_code);
SAME_AT(mw_pmix_proc_info_t, pmix_proc_info_t, state);
SAME_SIZE(mw_pmix_value_t, pmix_value_t);
SAME_AT(mw_pmix_value_t, pmix_value_t, data);
SAME_SIZE(mw_pmix_info_t, pmix_info_t);
SAME_AT(mw_pmix_info_t, pmix_info_t, flags);
SAME_AT(mw_pmix_info_t, pmix_info_t, value);
SAME_SIZE(mw_pmix_query_t, pmix_query_t);
SAME_AT(mw_pmix_query_t, pmix_query_t, qualifiers);
SAME_AT(mw_pmix_query_t, pmix_query_t, nqual);

_Static_assert(MW_PMIX_MAX_NSLEN == PMIX_MAX_NSLEN, "PMIX_MAX_NSLEN");
_Static_assert(MW_PMIX_MAX_KEYLEN == PMIX_MAX_KEYLEN, "PMIX_MAX_KEYLEN");
_Static_assert(MW_PMIX_SUCCESS == PMIX_SUCCESS, "PMIX_SUCCESS");
_Static_assert(MW_PMIX_STRING == PMIX_STRING, "PMIX_STRING");
_Static_assert(MW_PMIX_INFO == PMIX_INFO, "PMIX_INFO");
_Static_assert(MW_PMIX_PROC_INFO == PMIX_PROC_INFO, "PMIX_PROC_INFO");
_Static_assert(MW_PMIX_DATA_ARRAY == PMIX_DATA_ARRAY, "PMIX_DATA_ARRAY");
// lost.go's states.
_Static_assert(PMIX_PROC_STATE_ERROR == 50, "PMIX_PROC_STATE_ERROR");
_Static_assert(PMIX_PROC_STATE_TERM_WO_SYNC == 55, "PMIX_PROC_STATE_TERM_WO_SYNC");
_Static_assert(PMIX_PROC_STATE_UNDEF == 0, "PMIX_PROC_STATE_UNDEF");

int main(void)
{
	int bad = 0;
	if (strcmp(MW_PMIX_NSPACE, PMIX_NSPACE) != 0) {
		printf("PMIX_NSPACE is %s\n", PMIX_NSPACE);
		bad = 1;
	}
	if (strcmp(MW_PMIX_QUERY_PROC_TABLE, PMIX_QUERY_PROC_TABLE) != 0) {
		printf("PMIX_QUERY_PROC_TABLE is %s\n", PMIX_QUERY_PROC_TABLE);
		bad = 1;
	}
	return bad;
}
