#include <stdio.h>
#include "greet.h"

const char *greet_message(void) { return "Hello"; }

int greet(const char *who)
{
	return printf("%s, %s! (libgreet %s)\n", greet_message(), who, GREET_VERSION) < 0;
}

