// stdlib circuits
