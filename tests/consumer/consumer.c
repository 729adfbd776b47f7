/* Built against an installed libpneumo with pkg-config by check_consumer.sh. */
#include <stdio.h>
#include <string.h>

#include <pneumo/pneumo.h>

int main(void)
{
    pneumo_model *m = NULL;
    if (strcmp(pneumo_version(), PNEUMO_VERSION_STRING) != 0) {
        printf("FAIL: header %s, library %s\n", PNEUMO_VERSION_STRING, pneumo_version());
        return 1;
    }
    if (pneumo_model_create_article(500, 1, &m) != PNEUMO_OK) {
        printf("FAIL: %s\n", pneumo_last_error());
        return 1;
    }
    if (pneumo_model_num_params(m) != 1467137) {
        printf("FAIL: %lld parameters\n", (long long)pneumo_model_num_params(m));
        return 1;
    }
    pneumo_model_destroy(m);
    printf("ok: C consumer linked libpneumo %s\n", pneumo_version());
    return 0;
}
