// stdlib nn
