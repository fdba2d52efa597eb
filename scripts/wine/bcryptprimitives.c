/*
 * A stand-in for Windows' bcryptprimitives.dll, for running credflow's
 * Windows tests under Wine versions that do not ship it (Wine 8). The Go
 * runtime on Windows reads its random numbers from ProcessPrng in that DLL
 * and stops at start-up without it. This one answers from RtlGenRandom
 * (advapi32's SystemFunction036), which Wine has. It is built and used by
 * scripts/test-windows.sh only; nothing ships it.
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length) {
	while (length > 0) {
		ULONG n = length > 0x40000000 ? 0x40000000 : (ULONG)length;
		if (!SystemFunction036(data, n))
			return FALSE;
		data += n;
		length -= n;
	}
	return TRUE;
}
