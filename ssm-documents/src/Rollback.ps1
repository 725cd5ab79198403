# BeaconProxy-Rollback: puts back what a configure run captured (CaptureId = its request id).
$BpExitCode = Invoke-BpDocument 'rollback' @{ CaptureId = (Get-BpParameter 'CaptureId' '{{ CaptureId }}') }
exit $BpExitCode
