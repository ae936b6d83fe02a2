#include <stdio.h>
#include <greet.h>
#include "banner.h"

int main(int argc, char **argv)
{
	puts(BANNER);
	return greet(argc > 1 ? argv[1] : "world");
}
