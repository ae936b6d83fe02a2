#ifndef GREET_H
#define GREET_H
#define GREET_VERSION "1.0.0"
const char *greet_message(void);
int greet(const char *who);

#endif
