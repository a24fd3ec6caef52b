/*
 * Damages images on purpose for the refusal tests:
 *   image_tool flip IMAGE OFFSET          flip one byte (negative: from the end)
 *   image_tool set-kversion IMAGE TEXT    claim another kernel build, with a
 *                                          valid header checksum (a "foreign" image)
 *   image_tool page-offset IMAGE          print the file offset of the first page byte
 *   image_tool set-vdso IMAGE ADDR        move the recorded [vvar][vdso] to start at ADDR
 *                                          (hex), with a valid section checksum
 * Field edits for the refusal tests, each with the section checksum fixed up
 * so that only the module's (and libkcr's) own validation can refuse them
 * (VALUE is hex):
 *   image_tool poke-reg IMAGE WORD VALUE     user_regs_struct word (23 = ds, 26 = gs)
 *   image_tool poke-xstate IMAGE OFFSET BYTES VALUE
 *                                          BYTES (4 or 8) at OFFSET of the XSAVE area
 *   image_tool poke-task-flags IMAGE VALUE kcr_thread.task_flags
 *   image_tool poke-sigflags IMAGE SIGNO VALUE
 *                                          sa_flags of one signal's action
 *   image_tool poke-vvar IMAGE PAGES       kcr_mm.vvar_start lowered by PAGES pages
 *                                          alone (a larger [vvar])
 *   image_tool poke-dumpable IMAGE VALUE   kcr_mm.dumpable
 *   image_tool unterminate-auxv IMAGE      no AT_NULL in kcr_mm.saved_auxv
 *   image_tool poke-vma-start IMAGE INDEX ADDR
 *                                          start of the INDEXth mapping
 *   image_tool poke-memfd-map IMAGE ID     the memfd every memfd mapping names (hex)
 *   image_tool poke-file-id IMAGE FIELD VALUE
 *                                          FIELD (vma, flags, build_id_len) of the
 *                                          first FILE_IDS record
 * And a whole-image edit:
 *   image_tool inflate IMAGE MIB           MIB zero bytes more in each of the first
 *                                          three sections the module holds in memory
 *                                          (checksums, sizes and header fixed up)
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

/*
 * Reads the whole payload of the first section of TYPE into a buffer the
 * caller edits; section_commit() writes it back with a fresh checksum.
 */
struct section_edit {
	int fd;
	off_t pos;
	struct kcr_section hdr;
	unsigned char *data;
};

static int section_load(int fd, __u32 type, struct section_edit *e)
{
	e->fd = fd;
	e->pos = find_section(fd, type, &e->hdr);
	if (e->pos < 0)
		return fprintf(stderr, "no section of type %u\n", type), -1;
	e->data = malloc(e->hdr.size);
	if (!e->data ||
	    pread(fd, e->data, e->hdr.size, e->pos + sizeof(e->hdr)) != (ssize_t)e->hdr.size)
		return fprintf(stderr, "cannot read section %u\n", type), -1;
	return 0;
}

static int section_commit(struct section_edit *e)
{
	e->hdr.checksum = XXH64(e->data, e->hdr.size, 0);
	if (pwrite(e->fd, &e->hdr, sizeof(e->hdr), e->pos) != sizeof(e->hdr) ||
	    pwrite(e->fd, e->data, e->hdr.size, e->pos + sizeof(e->hdr)) != (ssize_t)e->hdr.size)
		return die("write");
	free(e->data);
	return 0;
}

static __u64 hex(const char *s)
{
	return strtoull(s, NULL, 16);
}

/* The field edits (see the top of this file); 64 when CMD is none of them. */
static int poke(int fd, int argc, char **argv)
{
	const char *cmd = argv[1];
	struct section_edit e;

	if (!strncmp(cmd, "poke-reg", 8) || !strncmp(cmd, "poke-xstate", 11) ||
	    !strncmp(cmd, "poke-task-flags", 15)) {
		struct kcr_thread *th;

		if (section_load(fd, KCR_SEC_THREAD, &e))
			return 1;
		th = (struct kcr_thread *)e.data;
		if (!strcmp(cmd, "poke-reg") && argc > 4) {
			th->regs[atoi(argv[3])] = hex(argv[4]);
		} else if (!strcmp(cmd, "poke-xstate") && argc > 5) {
			__u64 v = hex(argv[5]);

			memcpy(e.data + sizeof(*th) + atoi(argv[3]), &v,
			       atoi(argv[4]) == 4 ? 4 : 8);
		} else if (!strcmp(cmd, "poke-task-flags") && argc > 3) {
			th->task_flags = hex(argv[3]);
		} else {
			return 64;
		}
		return section_commit(&e);
	}
	if (!strcmp(cmd, "poke-sigflags") && argc > 4) {
		struct kcr_signals *sig;

		if (section_load(fd, KCR_SEC_SIGNALS, &e))
			return 1;
		sig = (struct kcr_signals *)e.data;
		sig->action[atoi(argv[3]) - 1].flags = hex(argv[4]);
		return section_commit(&e);
	}
	if (!strcmp(cmd, "poke-vvar") || !strcmp(cmd, "poke-dumpable") ||
	    !strcmp(cmd, "unterminate-auxv")) {
		struct kcr_mm *m;

		if (section_load(fd, KCR_SEC_MM, &e))
			return 1;
		m = (struct kcr_mm *)e.data;
		if (!strcmp(cmd, "poke-vvar") && argc > 3) {
			m->vvar_start -= (__u64)atoi(argv[3]) * KCR_PAGE_SIZE;
		} else if (!strcmp(cmd, "poke-dumpable") && argc > 3) {
			m->dumpable = hex(argv[3]);
		} else if (!strcmp(cmd, "unterminate-auxv")) {
			for (int i = 0; i < 48; i += 2)
				m->saved_auxv[i] = 6; /* AT_PAGESZ, over and over */
		} else {
			return 64;
		}
		return section_commit(&e);
	}
	if (!strcmp(cmd, "poke-vma-start") && argc > 4) {
		unsigned char *p;
		int index = atoi(argv[3]);

		if (section_load(fd, KCR_SEC_VMAS, &e))
			return 1;
		p = e.data;
		for (int i = 0; i < index; i++)
			p += sizeof(struct kcr_vma) + ((((struct kcr_vma *)p)->path_len + 7) & ~7U);
		((struct kcr_vma *)p)->start = hex(argv[4]);
		return section_commit(&e);
	}
	if (!strcmp(cmd, "poke-file-id") && argc > 4) {
		struct kcr_file_identity *id;

		if (section_load(fd, KCR_SEC_FILE_IDS, &e))
			return 1;
		id = (struct kcr_file_identity *)e.data;
		if (!strcmp(argv[3], "vma"))
			id->vma = hex(argv[4]);
		else if (!strcmp(argv[3], "flags"))
			id->flags = hex(argv[4]);
		else if (!strcmp(argv[3], "build_id_len"))
			id->build_id_len = hex(argv[4]);
		else
			return 64;
		return section_commit(&e);
	}
	if (!strcmp(cmd, "poke-memfd-map") && argc > 3) {
		unsigned char *p;
		int seen = 0;

		if (section_load(fd, KCR_SEC_VMAS, &e))
			return 1;
		for (p = e.data; p < e.data + e.hdr.size;
		     p += sizeof(struct kcr_vma) + ((((struct kcr_vma *)p)->path_len + 7) & ~7U)) {
			struct kcr_vma *v = (struct kcr_vma *)p;

			if (v->kind == KCR_VMA_MEMFD_PRIVATE || v->kind == KCR_VMA_MEMFD_SHARED) {
				v->memfd_id = hex(argv[3]);
				seen++;
			}
		}
		if (!seen)
			return fprintf(stderr, "no memfd mapping\n"), 1;
		return section_commit(&e);
	}
	return 64;
}

/* The module reads these into memory; the others it streams. */
static int held_in_memory(__u32 type)
{
	return type != KCR_SEC_PAGES && type != KCR_SEC_GHOST && type != KCR_SEC_MEMFD &&
	       type != KCR_SEC_END;
}

static int inflate(int fd, const struct stat *st, size_t extra)
{
	unsigned char *in = malloc(st->st_size), *out;
	size_t out_size = st->st_size + 3 * extra, ip = KCR_HEADER_SIZE, op = KCR_HEADER_SIZE;
	struct kcr_image_header h;
	int grown = 0;

	out = calloc(1, out_size);
	if (!in || !out || pread(fd, in, st->st_size, 0) != st->st_size)
		return die("read");
	for (;;) {
		struct kcr_section s;
		size_t padded;

		if (ip + sizeof(s) > (size_t)st->st_size)
			return fprintf(stderr, "no end section\n"), 1;
		memcpy(&s, in + ip, sizeof(s));
		padded = (s.size + 7) & ~7ULL;
		memcpy(out + op + sizeof(s), in + ip + sizeof(s), padded);
		if (grown < 3 && held_in_memory(s.type)) {
			s.size += extra; /* extra is a multiple of 8: the padding stays zeros */
			s.checksum = XXH64(out + op + sizeof(s), s.size, 0);
			grown++;
		}
		memcpy(out + op, &s, sizeof(s));
		ip += sizeof(s) + padded;
		op += sizeof(s) + ((s.size + 7) & ~7ULL);
		if (s.type == KCR_SEC_END)
			break;
	}
	memcpy(&h, in, sizeof(h));
	h.image_bytes = op;
	h.checksum = 0;
	h.checksum = XXH64(&h, sizeof(h), 0);
	memcpy(out, &h, sizeof(h));
	if (pwrite(fd, out, op, 0) != (ssize_t)op || ftruncate(fd, op))
		return die("write");
	return 0;
}

int main(int argc, char **argv)
{
	int fd;
	struct stat st;

	if (argc < 3)
		return fprintf(stderr,
			       "usage: image_tool flip|set-kversion|page-offset|set-vdso IMAGE [ARG]\n"),
		       64;
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
	if (!strcmp(argv[1], "inflate") && argc > 3)
		return inflate(fd, &st, (size_t)atol(argv[3]) << 20);
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
	if (!strncmp(argv[1], "poke-", 5) || !strcmp(argv[1], "unterminate-auxv")) {
		int rc = poke(fd, argc, argv);

		if (rc != 64)
			return rc;
	}
	return fprintf(stderr, "unknown command or missing arguments\n"), 64;
}
