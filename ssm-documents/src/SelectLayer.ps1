# On Windows the layer above is the real one. Anywhere else (tests, the local twin) the fake layer replaces
# it, loaded from BEACON_PROXY_FAKE_LAYER; without it the document reports LAYER_MISSING and changes nothing.
if ([Environment]::OSVersion.Platform -ne [PlatformID]::Win32NT) {
    if ($env:BEACON_PROXY_FAKE_LAYER -and (Test-Path -LiteralPath $env:BEACON_PROXY_FAKE_LAYER)) {
        try { . $env:BEACON_PROXY_FAKE_LAYER } catch { $script:BpLayerError = 'the fake layer did not load: ' + $_.Exception.Message }
    } else {
        $script:BpLayerError = 'not running on Windows and BEACON_PROXY_FAKE_LAYER does not name the fake layer (set it and BEACON_PROXY_FAKE_MODEL)'
    }
}
