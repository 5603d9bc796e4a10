/* SPDX-License-Identifier: MIT */
/* A plugin built for another ABI (major from ABI_MAJOR, minor from ABI_MINOR),
 * which the loader must refuse naming both versions. */
#include <sluice/plugin.h>

SL_PLUGIN_EXPORT const struct sl_plugin sluice_plugin = {
    .abi_major = ABI_MAJOR,
    .abi_minor = ABI_MINOR,
    .struct_size = sizeof(struct sl_plugin),
    .name = "abi_wrong",
    .version = "1",
};
