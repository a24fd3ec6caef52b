// SPDX-License-Identifier: GPL-2.0
/*
 * kcr: the reason a request failed, in words, copied back to user space so
 * that the CLI can name the cause (and the fix) instead of an errno.
 */
#include <linux/kernel.h>
#include "kcr_internal.h"

void kcr_set_reason(struct kcr_reason *r, const char *fmt, ...)
{
	va_list args;

	if (!r || r->text[0])
		return; /* keep the first, most specific reason */
	va_start(args, fmt);
	vsnprintf(r->text, sizeof(r->text), fmt, args);
	va_end(args);
}

void kcr_log_copy(char *dst, size_t size, const char *src)
{
	size_t i;

	for (i = 0; i + 1 < size && src[i]; i++)
		dst[i] = (src[i] >= 0x20 && src[i] < 0x7f) ? src[i] : '?';
	if (size)
		dst[i] = 0;
}
