/*
 * Minimal bcryptprimitives.dll for Wine 8 (Debian 12), used only by
 * .ci/windows.sh to run the Windows build under Wine.
 *
 * Rust's std (>= 1.78) and getrandom >= 0.3 on Windows import ProcessPrng
 * from bcryptprimitives.dll. Wine 8.0 ships no such DLL, so every Rust .exe
 * fails to load (status c0000135). This shim exports ProcessPrng and fills
 * the buffer from RtlGenRandom (advapi32!SystemFunction036), which Wine has.
 *
 * Built by .ci/windows.sh, without the C runtime (imports advapi32 only):
 *   x86_64-w64-mingw32-gcc -shared -O2 -s -nostdlib -Wl,--entry,DllMain \
 *       -o bcryptprimitives.dll bcryptprimitives.c bcryptprimitives.def \
 *       -ladvapi32 -lkernel32
 */
#include <windows.h>

/* advapi32!SystemFunction036 a.k.a. RtlGenRandom */
BOOLEAN WINAPI SystemFunction036(PVOID RandomBuffer, ULONG RandomBufferLength);

BOOL WINAPI ProcessPrng(PBYTE pbData, SIZE_T cbData)
{
    /* RtlGenRandom takes a ULONG length; feed it in chunks. */
    while (cbData > 0) {
        ULONG chunk = cbData > 0x40000000u ? 0x40000000u : (ULONG)cbData;
        if (!SystemFunction036(pbData, chunk))
            return FALSE;
        pbData += chunk;
        cbData -= chunk;
    }
    /* The real one always returns TRUE; this one returns FALSE only if
     * RtlGenRandom fails (Rust's std then aborts, which is what we want). */
    return TRUE;
}

BOOL WINAPI DllMain(HINSTANCE hinst, DWORD reason, LPVOID reserved)
{
    (void)hinst; (void)reason; (void)reserved;
    return TRUE;
}
