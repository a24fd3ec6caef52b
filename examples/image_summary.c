/*
 * image_summary_c IMAGE: the same through libkcr's C API (kcr.h), built in CI
 * against the installed headers and library only.
 */
#include <kcr/kcr.h>
#include <stdio.h>

int main(int argc, char **argv)
{
	kcr_error err;
	kcr_image *image;
	kcr_image_summary sum;
	int rc;

	if (argc != 2) {
		fprintf(stderr, "usage: image_summary_c IMAGE\n");
		return 64;
	}
	image = kcr_image_open(argv[1], &err);
	if (!image) {
		fprintf(stderr, "image_summary_c: %s\n", err.message);
		return 1;
	}
	kcr_image_summary_get(image, &sum);
	rc = kcr_image_verify(image, &err);
	printf("%s: pid %d (%s), %u mappings, %u open files, %s\n", argv[1], sum.pid, sum.comm,
	       sum.nr_vmas, sum.nr_files, rc ? err.message : "all checksums hold");
	kcr_image_close(image);
	return rc ? 1 : 0;
}
