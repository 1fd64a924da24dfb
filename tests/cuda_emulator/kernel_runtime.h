// CPU stand-ins for the CUDA built-ins that brainstorm's kernels use, and the
// launcher that runs a kernel's grid on one CPU thread.
//
// Included in front of the unchanged kernel module source (see fake_pycuda.py). The
// module is compiled at -O0: every read of threadIdx or of __shared__ memory goes to
// memory, so values written by other emulated threads before a __syncthreads() are
// seen after it, as on the GPU.
//
// Blocks run one after the other (first to last, or last to first after
// emulator_set_reverse_order(1)). Inside a block, a kernel without __syncthreads()
// runs its threads one after the other; a kernel with it runs each thread as a fiber
// (its own stack), and a barrier switches to the next fiber, so every thread of the
// block reaches the barrier before any passes it. A barrier that some threads of a
// block reach while others have returned is reported as an error (on a GPU it hangs
// or gives undefined results).
//
// Fibers switch with _setjmp/_longjmp between stacks, which glibc's fortified
// longjmp would refuse; the module is built at -O0 with _FORTIFY_SOURCE undefined.

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <csetjmp>
#include <functional>
#include <vector>
#include <ucontext.h>

using namespace std;

struct dim3 { unsigned int x, y, z; };
struct uint2 { unsigned int x, y; };
struct uint4 { unsigned int x, y, z, w; };

static inline uint2 make_uint2(unsigned int x, unsigned int y) { return uint2{x, y}; }
static inline uint4 make_uint4(unsigned int x, unsigned int y, unsigned int z, unsigned int w)
{
    return uint4{x, y, z, w};
}

static inline unsigned int __umulhi(unsigned int a, unsigned int b)
{
    return (unsigned int)(((unsigned long long)a * (unsigned long long)b) >> 32);
}

static inline double cospi(double x) { return cos(3.14159265358979323846 * x); }

// Not static: the kernels must reload them after a barrier, where another fiber ran.
dim3 threadIdx, blockIdx, blockDim, gridDim;

#define __global__
#define __device__
#define __forceinline__ inline
#define __shared__ static
#define __syncthreads() emulator_barrier()

namespace emulator {

enum { READY, AT_BARRIER, DONE };

// error codes returned by a launch
enum { OK = 0, DIVERGENT_BARRIER = 1, BARRIER_OUTSIDE_FIBERS = 2, OUT_OF_MEMORY = 3 };

// A fiber is made once (makecontext) and then runs kernel bodies forever: after a
// body returns it waits to be resumed for the next block or launch. Switches use
// _setjmp/_longjmp, which, unlike swapcontext, make no system call.
struct Fiber {
    ucontext_t context;
    jmp_buf jump;
    char* stack;
    dim3 index;
    int state;
    bool started;
};

static const size_t STACK_BYTES = 256 * 1024;
static ucontext_t scheduler_context;
static jmp_buf scheduler_jump;
static std::vector<Fiber*> fibers;
static Fiber* current = nullptr;
static const std::function<void()>* body = nullptr;
static bool in_fibers = false;
static int error = OK;
// Run blocks, and threads within a block, last first: a kernel whose result depends on
// the order its threads run in (two threads writing one element, a thread reading what
// another writes without a barrier between) gives another result in reverse order.
static bool reverse_order = false;

// The n-th index of a grid or block in x-fastest order (from the end in reverse order).
static dim3 nth(dim3 shape, size_t n)
{
    const size_t total = (size_t)shape.x * shape.y * shape.z;
    if (reverse_order) n = total - 1 - n;
    return dim3{(unsigned int)(n % shape.x), (unsigned int)(n / shape.x % shape.y),
                (unsigned int)(n / ((size_t)shape.x * shape.y))};
}

static void fiber_main()
{
    for (;;) {
        (*body)();
        current->state = DONE;
        if (!_setjmp(current->jump)) _longjmp(scheduler_jump, 1);
    }
}

static void resume(Fiber* fiber)
{
    current = fiber;
    threadIdx = fiber->index;
    if (_setjmp(scheduler_jump)) return;  // the fiber reached a barrier or finished
    if (!fiber->started) {
        fiber->started = true;
        swapcontext(&scheduler_context, &fiber->context);
    } else {
        _longjmp(fiber->jump, 1);
    }
}

static int run_block_in_fibers(dim3 block, const std::function<void()>& kernel)
{
    const size_t count = (size_t)block.x * block.y * block.z;
    while (fibers.size() < count) {
        Fiber* fiber = new Fiber();
        fiber->stack = (char*)malloc(STACK_BYTES);
        if (fiber->stack == nullptr) return OUT_OF_MEMORY;
        getcontext(&fiber->context);
        fiber->context.uc_stack.ss_sp = fiber->stack;
        fiber->context.uc_stack.ss_size = STACK_BYTES;
        fiber->context.uc_link = &scheduler_context;  // never used: fiber_main never returns
        makecontext(&fiber->context, fiber_main, 0);
        fiber->started = false;
        fibers.push_back(fiber);
    }
    for (size_t n = 0; n < count; ++n) {
        fibers[n]->index = nth(block, n);
        fibers[n]->state = READY;
    }
    body = &kernel;
    in_fibers = true;
    int status = OK;
    for (;;) {
        size_t waiting = 0, done = 0;
        for (size_t i = 0; i < count; ++i) {
            Fiber* fiber = fibers[i];  // fiber i runs thread nth(block, i)
            if (fiber->state != DONE) {
                fiber->state = READY;
                resume(fiber);
            }
            if (fiber->state == DONE) ++done; else ++waiting;
        }
        if (waiting == 0) break;
        if (done != 0) status = DIVERGENT_BARRIER;  // keep going: the waiting ones finish
    }
    in_fibers = false;
    current = nullptr;
    return status;
}

static int launch(dim3 grid, dim3 block, bool synchronizes, const std::function<void()>& kernel)
{
    gridDim = grid;
    blockDim = block;
    error = OK;
    const size_t blocks = (size_t)grid.x * grid.y * grid.z;
    const size_t threads = (size_t)block.x * block.y * block.z;
    for (size_t b = 0; b < blocks; ++b) {
        blockIdx = nth(grid, b);
        if (synchronizes) {
            const int status = run_block_in_fibers(block, kernel);
            if (status != OK) return status;
            continue;
        }
        for (size_t t = 0; t < threads; ++t) {
            threadIdx = nth(block, t);
            kernel();
            if (error != OK) return error;
        }
    }
    return error;
}

}  // namespace emulator

extern "C" void emulator_set_reverse_order(int reverse) { emulator::reverse_order = reverse != 0; }

static void emulator_barrier()
{
    using namespace emulator;
    if (!in_fibers) {
        error = BARRIER_OUTSIDE_FIBERS;
        return;
    }
    current->state = AT_BARRIER;
    if (!_setjmp(current->jump)) _longjmp(scheduler_jump, 1);
}

#define BRAINSTORM_CUDA_EMULATOR 1
