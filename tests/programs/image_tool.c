/*
 * Damages images on purpose for the refusal tests:
 *   image_tool flip IMAGE OFFSET          flip one byte (negative: from the end)
 *   image_tool set-kversion IMAGE TEXT    claim another kernel build, with a
 *                                          valid header checksum (a "foreign" image)
 *   image_tool page-offset IMAGE          print the file offset of the first page byte
 *   image_tool set-vdso IMAGE ADDR        move the recorded [vvar][vdso] to start at ADDR
 *                                          (hex), with a valid section checksum
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <xxhash.h>
#include <kcr_uapi.h>

static int die(const char *m)
{
	perror(m);
	return 1;
}

/* The file offset of the first section of a type, or -1. */
static off_t find_section(int fd, __u32 type, struct kcr_section *s)
{
	off_t pos = KCR_HEADER_SIZE;

	while (pread(fd, s, sizeof(*s), pos) == sizeof(*s)) {
		if (s->type == type)
			return pos;
		if (s->type == KCR_SEC_END)
			break;
		pos += sizeof(*s) + ((s->size + 7) & ~7ULL);
	}
	return -1;
}

int main(int argc, char **argv)
{
	int fd;
	struct stat st;

	if (argc < 3)
		return fprintf(stderr, "usage: image_tool flip|set-kversion|page-offset|set-vdso IMAGE [ARG]\n"), 64;
	fd = open(argv[2], O_RDWR);
	if (fd < 0 || fstat(fd, &st))
		return die(argv[2]);
	if (!strcmp(argv[1], "flip") && argc > 3) {
		long off = atol(argv[3]);
		unsigned char c;

		if (off < 0)
			off += st.st_size;
		if (pread(fd, &c, 1, off) != 1)
			return die("read");
		c ^= 0x40;
		if (pwrite(fd, &c, 1, off) != 1)
			return die("write");
		return 0;
	}
	if (!strcmp(argv[1], "set-kversion") && argc > 3) {
		struct kcr_image_header h;

		if (pread(fd, &h, sizeof(h), 0) != sizeof(h))
			return die("read");
		memset(h.kversion, 0, sizeof(h.kversion));
		strncpy(h.kversion, argv[3], sizeof(h.kversion) - 1);
		h.checksum = 0;
		h.checksum = XXH64(&h, sizeof(h), 0);
		if (pwrite(fd, &h, sizeof(h), 0) != sizeof(h))
			return die("write");
		return 0;
	}
	if (!strcmp(argv[1], "page-offset")) {
		struct kcr_section s;
		off_t pos = find_section(fd, KCR_SEC_PAGES, &s);

		if (pos < 0)
			return fprintf(stderr, "no page section\n"), 1;
		printf("%ld\n", (long)(pos + sizeof(s) + sizeof(struct kcr_page_chunk)));
		return 0;
	}
	if (!strcmp(argv[1], "set-vdso") && argc > 3) {
		struct kcr_section s;
		struct kcr_mm m;
		off_t pos = find_section(fd, KCR_SEC_MM, &s);
		__u64 to = strtoull(argv[3], NULL, 16);

		if (pos < 0 || s.size != sizeof(m) ||
		    pread(fd, &m, sizeof(m), pos + sizeof(s)) != sizeof(m))
			return fprintf(stderr, "no mm section\n"), 1;
		m.vdso_start += to - m.vvar_start;
		m.vdso_end += to - m.vvar_start;
		m.vvar_end += to - m.vvar_start;
		m.vvar_start = to;
		s.checksum = XXH64(&m, sizeof(m), 0);
		if (pwrite(fd, &s, sizeof(s), pos) != sizeof(s) ||
		    pwrite(fd, &m, sizeof(m), pos + sizeof(s)) != sizeof(m))
			return die("write");
		return 0;
	}
	return fprintf(stderr, "unknown command\n"), 64;
}
