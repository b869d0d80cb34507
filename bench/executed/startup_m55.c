/* Start-up code of the Cortex-M55 harness on qemu's mps3-an547: enable FP and MVE, prepare the kernel call,
 * make it, and leave qemu through semihosting with the kernel's status as the exit code (0 or 1).
 */
#include <stdint.h>

extern uint32_t __stack_top;
void harness_prepare(void);
void harness_run(void);
int32_t harness_status(void);
void reset_handler(void);

__attribute__((section(".vectors"), used)) const void *const vectors[2] = {&__stack_top, (const void *)reset_handler};

static void semihosting_exit(int32_t status)
{
    /* SYS_EXIT with ADP_Stopped_ApplicationExit (qemu exits 0) or ADP_Stopped_RunTimeErrorUnknown (exits 1) */
    register uint32_t operation __asm__("r0") = 0x18;
    register uint32_t reason __asm__("r1") = status == 0 ? 0x20026 : 0x20023;
    __asm__ volatile("bkpt 0xab" : : "r"(operation), "r"(reason) : "memory");
    for (;;)
    {
    }
}

void reset_handler(void)
{
    *(volatile uint32_t *)0xE000ED88 |= 0xFu << 20; /* CPACR: full access to CP10 and CP11 (FP and MVE) */
    __asm__ volatile("dsb\n\tisb" : : : "memory");
    harness_prepare();
    harness_run();
    semihosting_exit(harness_status());
}
