/* Fires the test module's deliberate WARN (KCR_IOC_TEST_WARN). */
#include <fcntl.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <kcr_uapi.h>

int main(void)
{
	int fd = open(KCR_DEVICE_PATH, O_RDWR);

	if (fd < 0 || ioctl(fd, KCR_IOC_TEST_WARN) != 0) {
		perror("KCR_IOC_TEST_WARN");
		return 1;
	}
	printf("warned\n");
	return 0;
}
