/* The six cuBLAS entry points brainstorm's ctypes binding (_cublas.py) declares, on the
 * CPU, with cuBLAS's semantics: column-major matrices with leading dimensions, C read
 * only when beta is not zero, CUBLAS_STATUS_INVALID_VALUE (7) for a leading dimension
 * smaller than its matrix's rows or a negative size, CUBLAS_STATUS_NOT_INITIALIZED (1)
 * for a handle that was not created or was destroyed. The products are plain loops
 * accumulated in double: slow, and exact enough to serve as a reference. */

#include <stddef.h>
#include <stdlib.h>

enum { SUCCESS = 0, NOT_INITIALIZED = 1, INVALID_VALUE = 7 };
enum { OP_N = 0, OP_T = 1 };

static const int HANDLE_MAGIC = 0x6375626c;

int cublasCreate_v2(void** handle)
{
    int* state = (int*)malloc(sizeof(int));
    if (state == NULL) return 3; /* CUBLAS_STATUS_ALLOC_FAILED */
    *state = HANDLE_MAGIC;
    *handle = state;
    return SUCCESS;
}

static int valid(void* handle) { return handle != NULL && *(int*)handle == HANDLE_MAGIC; }

int cublasDestroy_v2(void* handle)
{
    if (!valid(handle)) return NOT_INITIALIZED;
    *(int*)handle = 0;
    free(handle);
    return SUCCESS;
}

int cublasSetStream_v2(void* handle, void* stream)
{
    (void)stream;
    return valid(handle) ? SUCCESS : NOT_INITIALIZED;
}

int cublasSetMathMode(void* handle, int mode)
{
    if (!valid(handle)) return NOT_INITIALIZED;
    return mode >= 0 ? SUCCESS : INVALID_VALUE;
}

static int check(void* handle, int transa, int transb, int m, int n, int k, int lda, int ldb,
                 int ldc)
{
    if (!valid(handle)) return NOT_INITIALIZED;
    if ((transa != OP_N && transa != OP_T) || (transb != OP_N && transb != OP_T))
        return INVALID_VALUE;
    if (m < 0 || n < 0 || k < 0) return INVALID_VALUE;
    const int a_rows = transa == OP_N ? m : k;
    const int b_rows = transb == OP_N ? k : n;
    if (lda < (a_rows > 1 ? a_rows : 1) || ldb < (b_rows > 1 ? b_rows : 1)
        || ldc < (m > 1 ? m : 1))
        return INVALID_VALUE;
    return SUCCESS;
}

#define GEMM(NAME, REAL)                                                                    \
    int NAME(void* handle, int transa, int transb, int m, int n, int k, const REAL* alpha,  \
             const REAL* a, int lda, const REAL* b, int ldb, const REAL* beta, REAL* c,     \
             int ldc)                                                                       \
    {                                                                                       \
        const int status = check(handle, transa, transb, m, n, k, lda, ldb, ldc);           \
        if (status != SUCCESS) return status;                                               \
        for (int j = 0; j < n; ++j)                                                         \
            for (int i = 0; i < m; ++i) {                                                   \
                double sum = 0.0;                                                           \
                for (int p = 0; p < k; ++p) {                                               \
                    const REAL x = transa == OP_N ? a[i + (size_t)p * lda]                  \
                                                  : a[p + (size_t)i * lda];                 \
                    const REAL y = transb == OP_N ? b[p + (size_t)j * ldb]                  \
                                                  : b[j + (size_t)p * ldb];                 \
                    sum += (double)x * (double)y;                                           \
                }                                                                           \
                REAL* target = c + i + (size_t)j * ldc;                                     \
                const REAL product = (REAL)((double)*alpha * sum);                          \
                *target = *beta == (REAL)0 ? product : product + *beta * *target;           \
            }                                                                               \
        return SUCCESS;                                                                     \
    }

GEMM(cublasSgemm_v2, float)
GEMM(cublasDgemm_v2, double)
