// What a pod's persistentVolumeClaim volumes become in its sandbox: for each volumeMount of the
// pod's container that names such a volume, the claim (Bound), its PersistentVolume (one the
// local provisioner made) mounted on the host (LocalVolumes::Mount), and a runtime::BindMount
// of that mount at the mountPath, read-only when the mount or the volume source says so. Other
// volume kinds are left to the node as before (ignored).
#pragma once

#include <vector>

#include "base/json_util.h"
#include "base/result.h"
#include "runtime/runtime.h"
#include "storage/local_volumes.h"
#include "store/store.h"

namespace asb::storage {

// Errors: kUnavailable (a claim missing or not Bound yet: the node retries the start),
// kInvalidArgument (a mount the node can't make: subPath, a volume that is not local).
[[nodiscard]] Result<std::vector<runtime::BindMount>> PodVolumeBinds(store::Store& store,
                                                                     LocalVolumes& volumes,
                                                                     const Json& pod);

}  // namespace asb::storage
