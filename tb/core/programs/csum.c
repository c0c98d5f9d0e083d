/* A self-checking C program for the core: pseudo-random data, insertion sort, sums and
 * divisions checked two ways. main() returns 0 on success, a test number otherwise. */
volatile unsigned tohost;
static unsigned data[64];

static unsigned lcg(unsigned *s) {
    *s = *s * 1103515245u + 12345u;
    return *s >> 8;
}

static void isort(unsigned *a, int n) {
    for (int i = 1; i < n; i++) {
        unsigned v = a[i];
        int j = i - 1;
        while (j >= 0 && a[j] > v) {
            a[j + 1] = a[j];
            j--;
        }
        a[j + 1] = v;
    }
}

int main(void) {
    unsigned s = 1, sum = 0;
    for (int i = 0; i < 64; i++) {
        data[i] = lcg(&s) % 1000;
        sum += data[i];
    }
    isort(data, 64);
    unsigned sum2 = 0;
    for (int i = 0; i < 64; i++) {
        if (i && data[i - 1] > data[i])
            return 2;
        sum2 += data[i];
    }
    if (sum != sum2)
        return 3;
    for (int i = 1; i < 40; i++) {
        unsigned q = sum / i, r = sum % i;
        if (q * i + r != sum || r >= (unsigned)i)
            return 4;
        int n = -(int)sum, sq = n / i, sr = n % i;
        if (sq * i + sr != n)
            return 5;
    }
    unsigned long long p = (unsigned long long)sum * 0x9e3779b9u;
    if ((unsigned)(p >> 32) != (unsigned)(((unsigned long long)sum * 0x9e3779b9ull) >> 32))
        return 6;
    return 0;
}
