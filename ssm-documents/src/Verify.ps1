# BeaconProxy-Verify: read-only; reports every setting that drifted from the desired state.
$BpExitCode = Invoke-BpDocument 'verify' @{ DesiredState = (Get-BpParameter 'DesiredState' '{{ DesiredState }}'); CheckEndpoint = (Get-BpParameter 'CheckEndpoint' '{{ CheckEndpoint }}') }
exit $BpExitCode
